// What a policy is and which jobs it covers. A scope field that is absent matches
// every value; a policy covers a job when all of its scope's fields match.

export interface PolicyScope {
  owner_service?: string;
  task_type?: string;
  model_profile?: string;
}

export interface Policy {
  id: number;
  scope: PolicyScope;
  weight: number;
  max_running: number | null;
  paused: boolean;
  updated_at: string;
}

/** The fields of a lane (or a job) a scope is matched against. */
export interface Lane {
  owner_service: string;
  task_type: string;
  model_profile: string;
}

export function covers(p: Policy, lane: Lane): boolean {
  const s = p.scope;
  return (
    (s.owner_service === undefined || s.owner_service === lane.owner_service) &&
    (s.task_type === undefined || s.task_type === lane.task_type) &&
    (s.model_profile === undefined || s.model_profile === lane.model_profile)
  );
}

/** An owner's weight within a model profile: its {owner, profile} policy, else its {owner} policy, else 1. */
export function weightOf(policies: readonly Policy[], ownerService: string, modelProfile: string): number {
  let weight = 1;
  for (const p of policies) {
    if (p.scope.owner_service !== ownerService || p.scope.task_type !== undefined) continue;
    if (p.scope.model_profile === modelProfile) return p.weight;
    if (p.scope.model_profile === undefined) weight = p.weight;
  }
  return weight;
}

/** Capped policies that may cover a job of a claim with these filters (a superset is harmless: it is only locked). */
export function capsForClaim(policies: readonly Policy[], modelProfiles?: string[], taskTypes?: string[]): Policy[] {
  return policies
    .filter(
      (p) =>
        p.max_running !== null &&
        !p.paused &&
        (p.scope.model_profile === undefined || !modelProfiles || modelProfiles.includes(p.scope.model_profile)) &&
        (p.scope.task_type === undefined || !taskTypes || taskTypes.includes(p.scope.task_type)),
    )
    .sort((a, b) => a.id - b.id);
}
