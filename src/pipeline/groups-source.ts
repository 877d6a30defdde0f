import { buildGroupsView } from '../collectors/groups-view.js';
import type { GroupsSource } from '../server/groups-pages.js';
import type { Pipeline } from './setup.js';

/** Scraper identity of the groups page and /api/groups (see Collection.collect). */
const GROUPS_VIEWER = 'groups-view';

/**
 * The groups of the current pipeline's last cycle; a page asked for when that cycle is older than
 * `maxAgeMs` (or there is none) runs one, so the page works without a Prometheus scraping.
 */
export function pipelineGroups(current: () => Pipeline, maxAgeMs: number): GroupsSource {
  return {
    async view(opts) {
      const pipeline = current();
      let snapshot = pipeline.collection.lastSnapshot;
      if (!snapshot || Date.now() - snapshot.timeMs > maxAgeMs) snapshot = (await pipeline.collection.collect(GROUPS_VIEWER)).snapshot;
      const matcher = pipeline.config?.matcher;
      return snapshot && buildGroupsView(snapshot, { ...opts, describeRule: (i) => matcher?.describeRule(i), pressure: pipeline.psi && ((g) => pipeline.psi?.groupPressure(g)) });
    },
  };
}
