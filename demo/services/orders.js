// orders: places an order — the shop's widest fan-out: cart (read + clear), catalog (prices),
// payment (charge, the native service) and postgres (database "orders").
import { createService, HttpError, client, env } from './lib/service.js';
import { createPool, lit } from './lib/pg.js';

const db = createPool({ host: env('PG_HOST', 'postgres'), database: 'orders', size: 6, app: 'orders' });
const cart = client(env('CART_URL', 'http://cart:8082'));
const catalog = client(env('CATALOG_URL', 'http://catalog:8081'));
const payment = client(env('PAYMENT_URL', 'http://payment:8084'), { timeoutMs: 8000 });

createService({
  name: 'orders',
  port: Number(env('PORT', 8083)),
  routes: [
    ['POST', '/orders', async ({ body }) => {
      const user = String(body?.user ?? '');
      if (!/^[\w.-]{1,40}$/.test(user)) throw new HttpError(400, 'user required');
      const currency = String(body?.currency ?? 'EUR');
      const { items } = await cart('GET', `/cart/${encodeURIComponent(user)}`);
      if (!items.length) throw new HttpError(409, 'cart is empty');
      const prices = await catalog('GET', `/prices?ids=${items.map((i) => i.productId).join(',')}`);
      const lines = items.filter((i) => prices[i.productId]).map((i) => ({ ...i, price: prices[i.productId] }));
      const total = lines.reduce((s, l) => s + l.qty * l.price, 0);
      let txn = null;
      let status = 'paid';
      try {
        txn = (await payment('POST', '/charge', { user, amount_cents: total, currency, items: lines.length })).txn;
      } catch (err) {
        status = err.downstreamStatus === 402 ? 'declined' : 'payment_failed';
        await db.query(`INSERT INTO orders (user_id, total_cents, currency, status) VALUES (${lit(user)}, ${total}, ${lit(currency)}, ${lit(status)})`);
        throw err;
      }
      const values = lines.map((l) => `((SELECT id FROM o), ${l.productId}, ${l.qty}, ${l.price})`).join(',');
      const [row] = await db.query(
        `WITH o AS (INSERT INTO orders (user_id, total_cents, currency, payment_txn, status) VALUES (${lit(user)}, ${total}, ${lit(currency)}, ${txn}, ${lit(status)}) RETURNING id),
              i AS (INSERT INTO order_items (order_id, product_id, qty, price_cents) VALUES ${values})
         SELECT id FROM o`,
      );
      await cart('DELETE', `/cart/${encodeURIComponent(user)}`);
      return { status: 201, body: { orderId: row.id, total_cents: total, currency, txn, items: lines.length } };
    }],
    ['GET', '/orders/:id', async ({ params }) => {
      const id = Number(params.id);
      if (!Number.isInteger(id)) throw new HttpError(400, 'order id must be an integer');
      const [o] = await db.query(`SELECT id, user_id, total_cents, currency, payment_txn, status, created_at FROM orders WHERE id = ${id}`);
      if (!o) throw new HttpError(404, `no order ${id}`);
      o.items = await db.query(`SELECT product_id, qty, price_cents FROM order_items WHERE order_id = ${id}`);
      return o;
    }],
  ],
});
