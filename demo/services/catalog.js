// catalog: product listing, product detail and price lookup, backed by postgres (database "catalog").
// Scenario knob: flags.slowMs adds latency to flags.slowRoute only (default the product detail route).
import { createService, HttpError, sleep, env } from './lib/service.js';
import { createPool, lit } from './lib/pg.js';

const db = createPool({ host: env('PG_HOST', 'postgres'), database: 'catalog', size: 6, app: 'catalog' });
const flags = { slowMs: 0, slowRoute: 'GET /products/:id' };

async function maybeSlow(route) {
  if (flags.slowMs > 0 && flags.slowRoute === route) await sleep(Number(flags.slowMs));
}

createService({
  name: 'catalog',
  port: Number(env('PORT', 8081)),
  flags,
  routes: [
    ['GET', '/products', async ({ query }) => {
      await maybeSlow('GET /products');
      const limit = Math.min(Math.max(Number(query.get('limit') ?? 20) || 20, 1), 100);
      const cat = query.get('category');
      const where = cat ? `WHERE category = ${lit(cat)}` : '';
      return db.query(`SELECT id, name, category, price_cents, stock FROM products ${where} ORDER BY id LIMIT ${limit}`);
    }],
    ['GET', '/products/:id', async ({ params }) => {
      await maybeSlow('GET /products/:id');
      const id = Number(params.id);
      if (!Number.isInteger(id)) throw new HttpError(400, 'product id must be an integer');
      const rows = await db.query(`SELECT id, name, category, price_cents, stock FROM products WHERE id = ${id}`);
      if (!rows[0]) throw new HttpError(404, `no product ${id}`);
      return rows[0];
    }],
    ['GET', '/prices', async ({ query }) => {
      await maybeSlow('GET /prices');
      const ids = (query.get('ids') ?? '').split(',').map(Number).filter(Number.isInteger);
      if (ids.length === 0) throw new HttpError(400, 'ids=1,2,3 required');
      const rows = await db.query(`SELECT id, price_cents FROM products WHERE id IN (${ids.join(',')})`);
      return Object.fromEntries(rows.map((r) => [r.id, r.price_cents]));
    }],
  ],
});
