"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.VERSION = void 0;
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
function readVersion() {
    try {
        return JSON.parse(node_fs_1.default.readFileSync(node_path_1.default.resolve(__dirname, '..', 'package.json'), 'utf8')).version;
    }
    catch {
        return '0.0.0';
    }
}
exports.VERSION = readVersion();
//# sourceMappingURL=version.js.map