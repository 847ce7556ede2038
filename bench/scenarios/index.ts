/** Every scenario, in the order they run and appear in the report. */
import { ceiling } from './ceiling.js';
import { churn } from './churn.js';
import { cold } from './cold.js';
import { coldSize } from './cold-size.js';
import { deep } from './deep.js';
import { herd } from './herd.js';
import { hit } from './hit.js';
import { memory } from './memory.js';
import { apollo, limit, mercurius } from './peers.js';
import { pending } from './pending.js';
import { roleChange } from './role-change.js';
import type { Scenario } from './scenario.js';
import { search } from './search.js';

export const SCENARIOS: readonly Scenario[] = [
  ceiling,
  hit,
  pending,
  deep,
  cold,
  herd,
  churn,
  memory,
  coldSize,
  search,
  roleChange,
  mercurius,
  apollo,
  limit,
];
