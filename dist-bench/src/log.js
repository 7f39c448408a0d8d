"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.createLogger = createLogger;
exports.silentLogger = silentLogger;
const winston_1 = __importDefault(require("winston"));
/**
 * Under systemd (JOURNAL_STREAM set) the journal stamps each line itself, so the text format leaves the time out
 * and prefixes the syslog priority (<3> error, <4> warning, <6> info, <7> debug) that journald reads.
 */
function createLogger(cfg, env = process.env) {
    const journal = Boolean(env.JOURNAL_STREAM);
    const priority = { error: 3, warn: 4, info: 6, debug: 7 };
    const text = winston_1.default.format.printf((info) => {
        const { level, message, timestamp, scope, ...rest } = info;
        const fields = Object.entries(rest)
            .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
            .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
            .join(' ');
        const head = journal ? `<${priority[String(level)] ?? 6}>` : `${String(timestamp)} ${String(level).padEnd(5)} `;
        return `${head}${scope ? `[${String(scope)}] ` : ''}${String(message)}${fields ? ' ' + fields : ''}`;
    });
    return winston_1.default.createLogger({
        level: cfg.log.level,
        format: cfg.log.format === 'json'
            ? winston_1.default.format.combine(winston_1.default.format.timestamp(), winston_1.default.format.json())
            : winston_1.default.format.combine(winston_1.default.format.timestamp(), text),
        // Everything to stderr: stdout stays clean for the commands that print results (status --json, list, show).
        transports: [new winston_1.default.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
    });
}
/** A logger that drops everything, for library use and tests that do not care. */
function silentLogger() {
    return winston_1.default.createLogger({ silent: true, transports: [new winston_1.default.transports.Console({ silent: true })] });
}
//# sourceMappingURL=log.js.map