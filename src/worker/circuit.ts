// The circuit breaker of one lane (model profile). It decides from job outcomes
// only; the lane does the claiming, handing back and probing.
//
//   claiming  --N consecutive infrastructure failures-->  open
//   open      --a provider health probe answers up----->  half_open
//   half_open --its one job completes or the provider
//               answers (invalid_input, provider_error)->  claiming
//   half_open --an infrastructure failure-------------->  open
//   any       --shutdown------------------------------->  draining
//
// Infrastructure failures say the provider is unreachable or refusing work, not
// that the job is bad: retrying at once would only hammer it. A completion, or an
// error the provider itself answered with, proves it is up and resets the count.
// Everything else (timeout, lease lost, a hand-back) proves neither and counts
// for nothing; a half-open lane then lets one more job try.

export const LANE_STATES = ['claiming', 'open', 'half_open', 'draining'] as const;
export type LaneState = (typeof LANE_STATES)[number];

/** Failures that are the provider's state, not the job's fault. */
export const INFRASTRUCTURE_CATEGORIES: ReadonlySet<string> = new Set(['provider_unavailable', 'rate_limited']);
/** Failures only a provider that is up can answer with. */
const PROVIDER_ANSWERED: ReadonlySet<string> = new Set(['invalid_input', 'provider_error']);

export class Circuit {
  private readonly threshold: number;
  private readonly onChange: (to: LaneState, from: LaneState) => void;
  private current: LaneState = 'claiming';
  private consecutive = 0;

  constructor(threshold: number, onChange: (to: LaneState, from: LaneState) => void = () => {}) {
    this.threshold = threshold;
    this.onChange = onChange;
  }

  get state(): LaneState {
    return this.current;
  }

  /** A job of this lane finished: `category` is its failure category, undefined when it completed. */
  record(category: string | undefined): void {
    if (this.current === 'open' || this.current === 'draining') return;
    if (category !== undefined && INFRASTRUCTURE_CATEGORIES.has(category)) {
      this.consecutive++;
      if (this.current === 'half_open' || this.consecutive >= this.threshold) this.move('open');
    } else if (category === undefined || PROVIDER_ANSWERED.has(category)) {
      this.consecutive = 0;
      if (this.current === 'half_open') this.move('claiming');
    }
  }

  /** A health probe answered up while open: let one job try. */
  probeSucceeded(): void {
    if (this.current === 'open') this.move('half_open');
  }

  drain(): void {
    this.move('draining');
  }

  private move(to: LaneState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    if (to === 'open') this.consecutive = 0;
    this.onChange(to, from);
  }
}
