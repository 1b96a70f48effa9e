// Fair share between owner services, by stride scheduling per model profile.
//
// Each owner has a pass per model profile; every job claimed for it adds 1/weight.
// A claim fills its `limit` slots one at a time: every model profile nominates the
// best job (priority, then age) of its owner with the lowest pass (ties: owner name),
// and of the nominees the one with the highest priority, then the oldest, is taken.
// Over claims, owners of one profile are served in proportion to their weights
// whatever their backlogs; within one owner the order is priority, then age, as
// before; with a single owner the order is exactly the old one. An owner coming
// back from idle starts at the profile's clock (the lowest pass among the owners
// that competed in the last claim), so idle time banks no credit.
//
// Caps: a job is taken only while every capped policy covering it has capacity left
// in this claim (`remaining`, counted under the policy's lock); a job skipped for
// that marks the claim as shortened by a cap.
import type { Policy } from '../policies/policy.ts';
import { covers, weightOf } from '../policies/policy.ts';
import type { Head, LaneMode, LaneTake, PassMove } from './claim-store.ts';

export interface Allocation {
  takes: LaneTake[];
  passes: PassMove[];
  clocks: { model_profile: string; pass: number }[];
  /** A job was left behind because a cap was reached. */
  capped: boolean;
}

interface Owner {
  name: string;
  profile: string;
  weight: number;
  start: number;
  pass: number;
  served: number;
  /** This owner's heads, best first. */
  heads: Head[];
}

const better = (a: Head, b: Head) => a.priority > b.priority || (a.priority === b.priority && a.id < b.id);

export function allocate(
  heads: Head[],
  limit: number,
  mode: LaneMode,
  policies: readonly Policy[],
  caps: Policy[],
  remaining: Map<number, number>,
): Allocation {
  const byProfile = new Map<string, Map<string, Owner>>();
  for (const h of heads) {
    let owners = byProfile.get(h.model_profile);
    if (!owners) {
      owners = new Map();
      byProfile.set(h.model_profile, owners);
    }
    let o = owners.get(h.owner_service);
    if (!o) {
      const clock = h.clock ?? 0;
      const start = Math.max(h.pass ?? clock, clock);
      o = {
        name: h.owner_service,
        profile: h.model_profile,
        weight: weightOf(policies, h.owner_service, h.model_profile),
        start,
        pass: start,
        served: 0,
        heads: [],
      };
      owners.set(h.owner_service, o);
    }
    o.heads.push(h);
  }
  for (const owners of byProfile.values()) for (const o of owners.values()) o.heads.sort((a, b) => (better(a, b) ? -1 : 1));

  const capsOf = new Map<string, Policy[]>();
  const capsCovering = (h: Head) => {
    const key = `${h.queue}\n${h.owner_service}`;
    let list = capsOf.get(key);
    if (!list) {
      list = caps.filter((c) => covers(c, h));
      capsOf.set(key, list);
    }
    return list;
  };
  let capped = false;
  /** Drops an owner's leading heads a full cap holds back; its best takeable head, if any. */
  const nextOf = (o: Owner): Head | undefined => {
    while (o.heads.length) {
      const h = o.heads[0];
      if (capsCovering(h).every((c) => (remaining.get(c.id) ?? 0) > 0)) return h;
      capped = true;
      o.heads.shift();
    }
    return undefined;
  };

  const counts = new Map<string, LaneTake>();
  for (let slot = 0; slot < limit; slot++) {
    let pick: { owner: Owner; head: Head } | undefined;
    for (const owners of byProfile.values()) {
      let lowest: { owner: Owner; head: Head } | undefined;
      for (const o of owners.values()) {
        const head = nextOf(o);
        if (head && (!lowest || o.pass < lowest.owner.pass || (o.pass === lowest.owner.pass && o.name < lowest.owner.name)))
          lowest = { owner: o, head };
      }
      if (lowest && (!pick || better(lowest.head, pick.head))) pick = lowest;
    }
    if (!pick) break;
    const { owner, head } = pick;
    owner.heads.shift();
    owner.pass += 1 / owner.weight;
    owner.served++;
    for (const c of capsCovering(head)) remaining.set(c.id, (remaining.get(c.id) ?? 0) - 1);
    const key = `${mode === 'owner' ? head.model_profile : head.queue}\n${head.owner_service}`;
    const take = counts.get(key) ?? { queue: head.queue, model_profile: head.model_profile, owner_service: head.owner_service, count: 0 };
    take.count++;
    counts.set(key, take);
  }

  const passes: PassMove[] = [];
  const clocks: Allocation['clocks'] = [];
  for (const [profile, owners] of byProfile) {
    let clock = Number.POSITIVE_INFINITY;
    for (const o of owners.values()) {
      clock = Math.min(clock, o.pass);
      if (o.served) passes.push({ model_profile: profile, owner_service: o.name, start: o.start, weight: o.weight });
    }
    clocks.push({ model_profile: profile, pass: clock });
  }
  return { takes: [...counts.values()], passes, clocks, capped };
}
