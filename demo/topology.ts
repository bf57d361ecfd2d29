// The shop's shape: which "hosts" (network namespaces) exist, their addresses, and which service runs where.
// Everything else in demo/ reads these constants, so a rename or a new host happens in one place.

export const SUBNET_PREFIX = '10.213.0';
export const SUBNET_CIDR = `${SUBNET_PREFIX}.0/24`;
export const V6_PREFIX = 'fdfa:213::'; // ULA /64, only inside the demo namespaces
export const BRIDGE = 'fl-br0';
export const BRIDGE_IP = `${SUBNET_PREFIX}.1`; // the root namespace's seat on the bridge: where load comes from
export const MTU = 1500;
export const DOMAIN = 'shop.fl';

export interface DemoHost {
  ns: string; // network namespace name (also the short host name)
  ip: string;
  ip6: string;
  aliases: string[]; // extra names resolvable inside every demo namespace
}

const host = (ns: string, last: number, aliases: string[]): DemoHost => ({
  ns,
  ip: `${SUBNET_PREFIX}.${last}`,
  ip6: `${V6_PREFIX}${last}`,
  aliases,
});

export const HOSTS: DemoHost[] = [
  host('fl-gw', 10, ['gateway']),
  host('fl-web', 11, ['frontend', 'cart']),
  host('fl-cat', 12, ['catalog']),
  host('fl-ord', 13, ['orders']),
  host('fl-pay', 14, ['payment']),
  host('fl-db', 15, ['postgres', 'redis']),
];

export function hostByNs(ns: string): DemoHost {
  const h = HOSTS.find((x) => x.ns === ns);
  if (!h) throw new Error(`unknown demo host ${ns}`);
  return h;
}

/** Root-side veth name for a host (IFNAMSIZ is 16 incl. NUL). */
export const vethName = (ns: string): string => `${ns}-h`.slice(0, 15);

export type ServiceName = 'gateway' | 'frontend' | 'cart' | 'catalog' | 'orders' | 'payment' | 'postgres' | 'redis';

export interface DemoService {
  name: ServiceName;
  ns: string;
  ports: number[]; // first port is the main one (health-checked)
  kind: 'nginx' | 'node' | 'native' | 'postgres' | 'redis';
}

export const SERVICES: DemoService[] = [
  { name: 'postgres', ns: 'fl-db', ports: [5432], kind: 'postgres' },
  { name: 'redis', ns: 'fl-db', ports: [6379], kind: 'redis' },
  { name: 'payment', ns: 'fl-pay', ports: [8084, 8085], kind: 'native' },
  { name: 'catalog', ns: 'fl-cat', ports: [8081], kind: 'node' },
  { name: 'cart', ns: 'fl-web', ports: [8082], kind: 'node' },
  { name: 'orders', ns: 'fl-ord', ports: [8083], kind: 'node' },
  { name: 'frontend', ns: 'fl-web', ports: [8080], kind: 'node' },
  { name: 'gateway', ns: 'fl-gw', ports: [80, 443], kind: 'nginx' },
];

export function serviceByName(name: string): DemoService {
  const s = SERVICES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown demo service '${name}' (known: ${SERVICES.map((x) => x.name).join(', ')})`);
  return s;
}

export const serviceIp = (name: string): string => hostByNs(serviceByName(name).ns).ip;

/** Base URL of the gateway as seen from the root namespace (the "internet" side of the bridge). */
export const GATEWAY_HTTP = `http://${hostByNs('fl-gw').ip}`;
export const GATEWAY_HTTPS = `https://${hostByNs('fl-gw').ip}`;
