// cart: per-user carts in redis (hash cart:USER, field product id -> quantity).
// Scenario knob: flags.nagle = true re-enables Nagle on the response socket and writes the cart view in
// small pieces — the classic write-write-read pattern that stalls on the client's delayed ACK (~40 ms).
import { createService, HttpError, env } from './lib/service.js';
import { createRedis } from './lib/redis.js';

const redis = createRedis({ host: env('REDIS_HOST', 'redis') });
const flags = { nagle: false };
const TTL_S = 3600;

async function readCart(user) {
  const flat = (await redis.command('HGETALL', `cart:${user}`)) ?? [];
  const items = [];
  for (let i = 0; i < flat.length; i += 2) items.push({ productId: Number(flat[i]), qty: Number(flat[i + 1]) });
  return { user, items };
}

createService({
  name: 'cart',
  port: Number(env('PORT', 8082)),
  flags,
  routes: [
    ['GET', '/cart/:user', async ({ params, res }) => {
      const cart = await readCart(params.user);
      if (!flags.nagle) return cart;
      // Head, then each item, then the tail: several small writes on a Nagle-enabled socket, each in its
      // own tick like a streaming renderer (Node corks writes made within one tick into one send).
      res.socket.setNoDelay(false);
      const tick = () => new Promise((r) => setImmediate(r));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"user":${JSON.stringify(cart.user)},"items":[`);
      for (const [i, it] of cart.items.entries()) {
        await tick();
        res.write((i ? ',' : '') + JSON.stringify(it));
      }
      await tick();
      res.end(']}');
      return undefined;
    }],
    ['POST', '/cart/:user/items', async ({ params, body }) => {
      const productId = Number(body?.productId);
      const qty = Number(body?.qty ?? 1);
      if (!Number.isInteger(productId) || !Number.isInteger(qty) || qty < 1) throw new HttpError(400, 'productId and qty (>=1) required');
      const key = `cart:${params.user}`;
      await redis.command('HINCRBY', key, productId, qty);
      await redis.command('EXPIRE', key, TTL_S);
      return readCart(params.user);
    }],
    ['DELETE', '/cart/:user', async ({ params }) => {
      await redis.command('DEL', `cart:${params.user}`);
      return { ok: true };
    }],
  ],
});
