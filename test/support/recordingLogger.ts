import { Writable } from 'node:stream';
import winston from 'winston';

/** A logger whose lines ("level message", debug and up) the test reads. */
export function recordingLogger(): { log: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(String(chunk).trim());
      done();
    },
  });
  const log = winston.createLogger({
    level: 'debug',
    format: winston.format.printf((i) => `${i.level} ${String(i.message)}`),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { log, lines };
}
