// The caller's address on the gRPC federation listener (what per-peer allowlists judge) read off grpc-js's
// peer string, which joins address and port with a colon and no brackets: IPv4, IPv6 and IPv4-mapped
// addresses must all come out whole, and anything else not at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressOfGrpcPeer } from '../../../../src/node/features/federation/grpc/grpc-federation-service.ts';

test('grpc-js peer strings → the address (IPv4, IPv6, IPv4-mapped, bracketed, prefixed)', () => {
  assert.equal(addressOfGrpcPeer('127.0.0.1:5555'), '127.0.0.1');
  assert.equal(addressOfGrpcPeer('::1:5555'), '::1');
  assert.equal(addressOfGrpcPeer('::ffff:10.0.0.5:5555'), '::ffff:10.0.0.5');
  assert.equal(addressOfGrpcPeer('[2001:db8::7]:443'), '2001:db8::7');
  assert.equal(addressOfGrpcPeer('ipv4:10.1.2.3:80'), '10.1.2.3');
  assert.equal(addressOfGrpcPeer('unix:/tmp/sock'), undefined);
  assert.equal(addressOfGrpcPeer(''), undefined);
});
