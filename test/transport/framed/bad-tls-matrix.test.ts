// The shared bad-TLS matrix (test/support/bad-tls-matrix.ts) against the framed TCP adapter: the framed
// server (node:tls listener + peer gate) where one attempt is one frame sent and echoed back, and the framed
// client pointed at each bad server.
import { readFile } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { exactUri } from '../../../src/tls/authorize.ts';
import { PeerRejectedError } from '../../../src/tls/errors.ts';
import { FrameDecoder, frameHeader } from '../../../src/transport/framed/decoder.ts';
import { clientMatrix, serverMatrix } from '../../support/bad-tls-matrix.ts';
import { framedClient, startFramedServer } from '../../support/framed-peers.ts';
import { until } from '../../support/reload.ts';

serverMatrix({
  name: 'framed TCP server (node:tls listener + peer gate)',
  async start(material, clientUri) {
    const server = await startFramedServer(material, exactUri(clientUri));
    const ca = await readFile(material.caPath, 'utf8');
    return {
      async attempt(client, tls) {
        const seen = server.rejections.length;
        // A raw node:tls client so every knob (versions, suites, no certificate) can be turned; the server
        // identity check is off: only the server's decision is under test here.
        const echoed = await new Promise<boolean>((resolve) => {
          const socket: TLSSocket = connect({
            host: '127.0.0.1',
            port: server.port,
            ca,
            ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
            checkServerIdentity: () => undefined,
            ...tls,
          });
          const decoder = new FrameDecoder();
          let ok = false;
          socket.on('secureConnect', () =>
            socket.write(Buffer.concat([frameHeader(4), Buffer.from('ping')])),
          );
          socket.on('data', (chunk: Buffer) => {
            const result = decoder.push(chunk);
            if (result.ok && result.frames.some((frame) => Buffer.from(frame).toString() === 'ping')) {
              ok = true;
              socket.end();
            }
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve(ok));
        });
        if (echoed) return { admitted: true, reason: server.rejections[seen]?.reason ?? null };
        await until('the server to record its refusal', () => server.rejections.length > seen);
        return { admitted: false, reason: server.rejections[seen]?.reason ?? null };
      },
      close: () => server.close(),
    };
  },
});

clientMatrix({
  name: 'framed TCP client (createFramedClient)',
  async attempt(port, material, serverUri) {
    const client = await framedClient(port, material, serverUri);
    try {
      const connection = await client.connect();
      await connection.send(Buffer.from('secret payload'));
      connection.destroy();
      return { connected: true, reason: null };
    } catch (error) {
      const reason =
        error instanceof PeerRejectedError ? error.reason : (client.rejections[0]?.reason ?? String(error));
      return { connected: false, reason };
    } finally {
      client.close();
    }
  },
});
