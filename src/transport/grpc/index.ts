// The gRPC adapter's public surface, re-exported by src/transport/index.ts.
export {
  type GrpcCallAuthorizerOptions,
  type GrpcCallRejection,
  grpcCallAuthorizer,
} from './call-authorizer.ts';
export { CredentialSourceCertificateProvider } from './certificate-provider.ts';
export {
  createMtlsChannelCredentials,
  type MtlsChannelCredentials,
  type MtlsChannelCredentialsOptions,
} from './channel-credentials.ts';
export { grpcPeer, type HasAuthContext } from './peer.ts';
export { createMtlsGrpcServer, type MtlsGrpcServer, type MtlsGrpcServerOptions } from './server.ts';
export { createPolicyServerCredentials } from './server-credentials.ts';
