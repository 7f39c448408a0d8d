"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Ticker = void 0;
const errors_1 = require("../errors");
/**
 * Runs `fn` every `intervalMs`, never overlapping itself, first after a random part of one interval so that
 * daemons started together do not tick together. The owner calls stop(); no timer outlives it.
 */
class Ticker {
    name;
    intervalMs;
    fn;
    log;
    timer = null;
    running = null;
    stopped = true;
    constructor(name, intervalMs, fn, log) {
        this.name = name;
        this.intervalMs = intervalMs;
        this.fn = fn;
        this.log = log;
    }
    start(firstDelayMs = Math.random() * this.intervalMs) {
        this.stopped = false;
        this.schedule(firstDelayMs);
    }
    /** Runs now (or waits for the run in progress), then carries on at the interval. */
    async runNow() {
        if (this.running)
            return this.running;
        if (this.timer)
            clearTimeout(this.timer);
        this.timer = null;
        await this.tick();
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        this.timer = null;
        await this.running;
    }
    schedule(ms) {
        if (this.stopped)
            return;
        this.timer = setTimeout(() => {
            this.timer = null;
            void this.tick();
        }, ms);
    }
    async tick() {
        this.running = this.fn().catch((err) => {
            this.log.warn(`${this.name} failed: ${(0, errors_1.errorMessage)(err)}`, { scope: this.name });
        });
        await this.running;
        this.running = null;
        this.schedule(this.intervalMs);
    }
}
exports.Ticker = Ticker;
//# sourceMappingURL=ticker.js.map