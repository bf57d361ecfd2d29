// Every TCP diagnoser, run over one window.
import type { Finding } from '../../model/finding.js';
import type { TcpDiagnoser, TcpWindow } from './window.js';
import { diagnoseNagleDelayedAck } from './nagle.js';
import { diagnoseIneffectiveRcvbuf } from './sockbuf.js';
import { diagnoseListenOverflow } from './listen.js';
import { diagnoseRetransmissionStorm, diagnoseRtoStalls } from './loss.js';
import { diagnoseZeroWindow } from './stalls.js';
import { diagnoseResetStorm } from './resets.js';
import { diagnoseConnectionChurn } from './churn.js';

export const tcpDiagnosers: TcpDiagnoser[] = [
  diagnoseNagleDelayedAck,
  diagnoseIneffectiveRcvbuf,
  diagnoseListenOverflow,
  diagnoseRetransmissionStorm,
  diagnoseRtoStalls,
  diagnoseZeroWindow,
  diagnoseResetStorm,
  diagnoseConnectionChurn,
];

export function diagnoseTcp(w: TcpWindow): Finding[] {
  return tcpDiagnosers.flatMap((d) => d(w));
}

export type { TcpWindow, ConnChange, ListenerChange, TcpDiagnoser } from './window.js';
