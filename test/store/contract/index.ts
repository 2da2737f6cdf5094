// The store contract: every behaviour of every port that the node relies on, run against any Store
// implementation through its public interface only. test/store/sqlite-contract.test.ts runs it on SQLite;
// a PostgreSQL store runs the same suite with its own factory.
import { describe } from 'node:test';
import { apiKeyContract } from './api-keys.ts';
import { auditContract } from './audit.ts';
import { capabilityContract } from './capabilities.ts';
import { concurrencyContract } from './concurrency.ts';
import { factLogContract } from './fact-log.ts';
import { factContract } from './facts.ts';
import { feedContract } from './feed.ts';
import { metaContract } from './meta.ts';
import { peerKeyContract } from './peer-keys.ts';
import { peerContract } from './peers.ts';
import { replayContract } from './replay.ts';
import { transactionContract } from './transactions.ts';
import type { OpenStore } from './types.ts';

export type { OpenStore, OpenStoreOptions, StoreHandle } from './types.ts';

export function storeContract(name: string, open: OpenStore): void {
  describe(`${name} store contract`, () => {
    describe('facts', () => factContract(open));
    describe('federation feed', () => feedContract(open));
    describe('fact log', () => factLogContract(open));
    describe('peers', () => peerContract(open));
    describe('peer keys', () => peerKeyContract(open));
    describe('api keys', () => apiKeyContract(open));
    describe('audit', () => auditContract(open));
    describe('capabilities', () => capabilityContract(open));
    describe('replay cache', () => replayContract(open));
    describe('meta', () => metaContract(open));
    describe('transactions', () => transactionContract(open));
    describe('concurrent writers', () => concurrencyContract(open));
  });
}
