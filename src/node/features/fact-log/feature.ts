// The fact log as a feature: the service (catch-up, checkpoints, proofs) other features use, kept caught
// up in the background: at start (facts stored before the log existed are appended then), shortly after
// local writes, and after each pull from a peer (compose.ts). A proof request catches up whatever is left.
import type { NodeContext } from '../../app/context.ts';
import { subscribe } from '../../app/events.ts';
import type { Feature } from '../../app/feature.ts';
import { FactLog } from './fact-log.ts';

/** Writes within this window are appended together. */
const WRITE_DEBOUNCE_MS = 250;

export function factLogFeature(ctx: NodeContext): Feature & { factLog: FactLog; catchUp(): Promise<void> } {
  const { store, config, keys, logger, clock } = ctx;
  const factLog = new FactLog({ store, logId: config.entityUri, nodeKey: keys.nodeKey, now: clock });
  const catchUp = async (why: string) => {
    try {
      // Only the start reports what it appended: the backlog of facts stored before the log existed.
      const before = why === 'start' ? (await store.factLogHead()).size : null;
      const after = await factLog.sync();
      if (before !== null && after.size > before)
        logger.info(
          { event: 'fact_log_appended', facts: after.size - before, size: after.size },
          'fact log caught up',
        );
    } catch (error) {
      // Retried at the next write, pull or proof request; a proof request reports its own failure.
      logger.warn(
        { event: 'fact_log_append_failed', why, error: (error as Error).message },
        'could not extend the fact log',
      );
    }
  };
  let timer: NodeJS.Timeout | null = null;
  const afterWrite = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      void catchUp('write');
    }, WRITE_DEBOUNCE_MS);
    timer.unref();
  };
  const unsubscribe = subscribe(ctx.events, { fact_written: afterWrite });
  return {
    name: 'fact-log',
    factLog,
    catchUp: () => catchUp('pull'),
    start() {
      void catchUp('start');
    },
    async drain() {
      unsubscribe();
      if (timer) clearTimeout(timer);
      timer = null;
      await factLog.idle();
    },
  };
}
