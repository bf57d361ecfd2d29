// What a time series is about: a service, one of its endpoints, an edge between two services, a host, a
// resource of a service (CPU run-queue, disk, listen queue) or one connection. Ids are plain strings so
// series files, alerts and store rows can carry them; parseEntity() is the exact inverse of entityId().
export type EntityKind = 'service' | 'endpoint' | 'edge' | 'host' | 'resource' | 'connection';
export type ResourceKind = 'cpu' | 'disk' | 'listen-queue';

export type Entity =
  | { kind: 'service'; service: string }
  | { kind: 'endpoint'; service: string; endpoint: string }
  | { kind: 'edge'; from: string; to: string }
  | { kind: 'host'; host: string }
  | { kind: 'resource'; resource: ResourceKind; service: string }
  | { kind: 'connection'; from: string; to: string; conn: string };

export function entityId(e: Entity): string {
  switch (e.kind) {
    case 'service': return `service:${e.service}`;
    case 'endpoint': return `endpoint:${e.service}|${e.endpoint}`;
    case 'edge': return `edge:${e.from}>${e.to}`;
    case 'host': return `host:${e.host}`;
    case 'resource': return `resource:${e.resource}@${e.service}`;
    case 'connection': return `connection:${e.from}>${e.to}#${e.conn}`;
  }
}

export function parseEntity(id: string): Entity {
  const i = id.indexOf(':');
  const kind = id.slice(0, i);
  const rest = id.slice(i + 1);
  const bad = () => new Error(`bad entity id '${id}' (service:S, endpoint:S|E, edge:A>B, host:H, resource:cpu|disk|listen-queue@S, connection:A>B#C)`);
  if (i < 0 || !rest) throw bad();
  switch (kind) {
    case 'service': return { kind, service: rest };
    case 'host': return { kind, host: rest };
    case 'endpoint': {
      const p = rest.indexOf('|');
      if (p <= 0) throw bad();
      return { kind, service: rest.slice(0, p), endpoint: rest.slice(p + 1) };
    }
    case 'edge': {
      const [from, to] = rest.split('>');
      if (!from || !to) throw bad();
      return { kind, from, to };
    }
    case 'connection': {
      const h = rest.indexOf('#');
      const [from, to] = rest.slice(0, h).split('>');
      if (h < 0 || !from || !to) throw bad();
      return { kind, from, to, conn: rest.slice(h + 1) };
    }
    case 'resource': {
      const [res, service] = rest.split('@');
      if (!service || !['cpu', 'disk', 'listen-queue'].includes(res!)) throw bad();
      return { kind, resource: res as ResourceKind, service };
    }
    default: throw bad();
  }
}

/** Services an entity touches (an edge touches both ends); a host maps through `hostServices` when known. */
export function servicesOf(e: Entity, hostServices?: Map<string, string[]>): string[] {
  switch (e.kind) {
    case 'service': case 'endpoint': case 'resource': return [e.service];
    case 'edge': case 'connection': return [e.from, e.to];
    case 'host': return hostServices?.get(e.host) ?? [];
  }
}

export function describeEntity(e: Entity): string {
  switch (e.kind) {
    case 'service': return e.service;
    case 'endpoint': return `${e.service} ${e.endpoint}`;
    case 'edge': return `${e.from} -> ${e.to}`;
    case 'host': return `host ${e.host}`;
    case 'resource': return `${e.resource} of ${e.service}`;
    case 'connection': return `${e.from} -> ${e.to} (${e.conn})`;
  }
}
