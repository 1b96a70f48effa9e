// The lane circuit's state machine on its own: which outcomes count, which reset
// the count, and which prove nothing.
import { expect } from 'chai';
import { Circuit, type LaneState } from '../../src/worker/circuit.ts';

function setup(threshold = 3) {
  const moves: string[] = [];
  const circuit = new Circuit(threshold, (to: LaneState, from: LaneState) => moves.push(`${from}->${to}`));
  return { circuit, moves };
}

describe('worker: lane circuit', () => {
  it('opens after the threshold of consecutive infrastructure failures, of either kind', () => {
    const { circuit, moves } = setup();
    circuit.record('provider_unavailable');
    circuit.record('rate_limited');
    expect(circuit.state).to.equal('claiming');
    circuit.record('provider_unavailable');
    expect(circuit.state).to.equal('open');
    expect(moves).to.deep.equal(['claiming->open']);
  });

  it('restarts the count on a completion or an error the provider answered with', () => {
    for (const reset of [undefined, 'invalid_input', 'provider_error']) {
      const { circuit } = setup();
      circuit.record('provider_unavailable');
      circuit.record('provider_unavailable');
      circuit.record(reset);
      circuit.record('provider_unavailable');
      circuit.record('provider_unavailable');
      expect(circuit.state, String(reset)).to.equal('claiming');
    }
  });

  it('neither counts nor resets timeouts, lost leases and hand-backs', () => {
    const { circuit } = setup();
    circuit.record('provider_unavailable');
    circuit.record('provider_unavailable');
    for (const neutral of ['timeout', 'worker_shutdown', 'result_too_large']) circuit.record(neutral);
    expect(circuit.state).to.equal('claiming');
    circuit.record('rate_limited');
    expect(circuit.state).to.equal('open');
  });

  it('ignores outcomes while open; a good probe half-opens; the one job decides', () => {
    const { circuit, moves } = setup(1);
    circuit.record('provider_unavailable');
    circuit.record(undefined);
    expect(circuit.state).to.equal('open');
    circuit.probeSucceeded();
    circuit.record('timeout');
    expect(circuit.state).to.equal('half_open');
    circuit.record('provider_unavailable');
    circuit.probeSucceeded();
    circuit.record(undefined);
    expect(moves).to.deep.equal(['claiming->open', 'open->half_open', 'half_open->open', 'open->half_open', 'half_open->claiming']);
  });

  it('drains from any state and stays drained', () => {
    const { circuit } = setup(1);
    circuit.record('provider_unavailable');
    circuit.drain();
    circuit.probeSucceeded();
    circuit.record(undefined);
    expect(circuit.state).to.equal('draining');
  });
});
