// The framed TCP adapter's public surface, re-exported by src/transport/index.ts.

export {
  createFramedClient,
  type FramedClient,
  type FramedClientOptions,
  type FramedDialOptions,
  FramedHandshakeTimeoutError,
} from './client.ts';
export {
  type FramedCloseReason,
  FramedConnection,
  FramedConnectionClosedError,
  type FramedConnectionEvents,
} from './connection.ts';
export { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder, frameHeader } from './decoder.ts';
export {
  createFramedMetrics,
  type FramedLimitEvent,
  type FramedLimitReason,
  type FramedMetrics,
  type FrameLimits,
} from './limits.ts';
export {
  createFramedServer,
  FramedServer,
  type FramedServerEvents,
  type FramedServerOptions,
} from './server.ts';
