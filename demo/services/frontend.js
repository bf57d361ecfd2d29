// frontend: the shop's web tier behind the gateway — a small HTML home page and the /api the browser
// (and the load generator) uses, fanning out to catalog, cart and orders.
import { createService, client, env } from './lib/service.js';

const catalog = client(env('CATALOG_URL', 'http://catalog:8081'));
const cart = client(env('CART_URL', 'http://cart:8082'));
const orders = client(env('ORDERS_URL', 'http://orders:8083'), { timeoutMs: 15000 });
const enc = encodeURIComponent;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

createService({
  name: 'frontend',
  port: Number(env('PORT', 8080)),
  routes: [
    ['GET', '/', async () => {
      const products = await catalog('GET', '/products?limit=12');
      const rows = products.map((p) => `<li>${esc(p.name)} — ${(p.price_cents / 100).toFixed(2)} €</li>`).join('');
      return `<!doctype html><html><head><title>faultlens demo shop</title></head><body><h1>Coffee shop</h1><ul>${rows}</ul></body></html>`;
    }],
    ['GET', '/api/products', ({ query }) => {
      const cat = query.get('category');
      return catalog('GET', `/products?limit=${enc(query.get('limit') ?? '20')}${cat ? `&category=${enc(cat)}` : ''}`);
    }],
    ['GET', '/api/products/:id', ({ params }) => catalog('GET', `/products/${enc(params.id)}`)],
    ['GET', '/api/cart/:user', ({ params }) => cart('GET', `/cart/${enc(params.user)}`)],
    ['POST', '/api/cart/:user/items', ({ params, body }) => cart('POST', `/cart/${enc(params.user)}/items`, body)],
    ['POST', '/api/orders', async ({ body }) => ({ status: 201, body: await orders('POST', '/orders', body) })],
    ['GET', '/api/orders/:id', ({ params }) => orders('GET', `/orders/${enc(params.id)}`)],
  ],
});
