// The PostgreSQL store passes the store contract (each test in a new schema of a throwaway database on
// the local server; the file fails, never skips, when the server is not reachable).
import { storeContract } from './contract/index.ts';
import { postgresStores, testDatabase } from './postgres-fixtures.ts';

storeContract('PostgreSQL', postgresStores(testDatabase()));
