-- Schema and seed data of the demo shop (applied once when the cached postgres cluster is created;
-- editing this file changes the cache key, so the next `demo up` re-initialises).
CREATE DATABASE catalog;
CREATE DATABASE orders;

\connect catalog
CREATE TABLE products (
  id          integer PRIMARY KEY,
  name        text    NOT NULL,
  category    text    NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents > 0),
  stock       integer NOT NULL DEFAULT 100
);
INSERT INTO products (id, name, category, price_cents, stock)
SELECT i,
       (ARRAY['Espresso','Filter','Grinder','Kettle','Mug','Scale','Beans','Tamper'])[1 + i % 8] || ' ' || i,
       (ARRAY['machines','accessories','coffee','tea'])[1 + i % 4],
       199 + (i * 137) % 9800,
       50 + (i * 31) % 200
FROM generate_series(1, 200) AS i;
CREATE INDEX products_category ON products (category);

\connect orders
CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  user_id     text        NOT NULL,
  total_cents integer     NOT NULL,
  currency    text        NOT NULL DEFAULT 'EUR',
  payment_txn integer,
  status      text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE order_items (
  order_id    bigint  NOT NULL REFERENCES orders(id),
  product_id  integer NOT NULL,
  qty         integer NOT NULL,
  price_cents integer NOT NULL
);
CREATE INDEX orders_user ON orders (user_id);
