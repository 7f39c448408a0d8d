"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.defaultHandlers = defaultHandlers;
const email_1 = require("./email");
/** batch_action → handler. Action names are xTuple's. */
function defaultHandlers(extra = {}) {
    return new Map([
        ['Email', email_1.emailHandler],
        ...Object.entries(extra),
    ]);
}
//# sourceMappingURL=index.js.map