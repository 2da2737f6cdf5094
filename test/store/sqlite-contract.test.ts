// The SQLite store passes the store contract (each test on a new database file in a temp dir).
import { storeContract } from './contract/index.ts';
import { tempStore } from './fixtures.ts';

storeContract('SQLite', (options) => tempStore(options));
