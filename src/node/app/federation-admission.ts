// What the federation listener asks of a peer's certificate at the handshake, beyond the core's certificate
// rules and the deny-list: a URI SAN (its entity URI; which entity may do what is decided per request, by
// peer token and approval). One definition, used by the listener and by `tessera doctor`.
import { type Authorizer, allow, deny } from '../../tls/authorize.ts';

export const requireUriSan: Authorizer = (identity) =>
  identity.uris.length > 0 ? allow : deny('no_uri_san', 'peer certificate has no URI SAN');
