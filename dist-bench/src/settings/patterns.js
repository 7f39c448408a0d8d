"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.patternProblem = patternProblem;
exports.matchesAny = matchesAny;
/**
 * "Exclude Contacts Matching" patterns. Forms:
 *   bob@example.com      one address
 *   example.com          every address at that domain (not its subdomains)
 *   *@example.com        the same, written as a wildcard
 *   *.example.org        every subdomain of example.org
 *   noreply@*            that mailbox name at any domain
 *   *-bounce@*           '*' stands for any run of characters, anywhere
 * Matching ignores case.
 */
const PART = /^[a-z0-9!#$%&'+/=?^_`{|}~.*-]+$/i;
const DOMAIN = /^(\*|\*\.)?[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?(\.[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)*$/i;
/** Returns null when the pattern is well formed, else what is wrong with it. */
function patternProblem(pattern) {
    const p = pattern.trim();
    if (!p)
        return 'is empty';
    if (/\s/.test(p))
        return 'contains spaces';
    if (/\*\*/.test(p))
        return 'has "**"; one "*" already matches any run of characters';
    const at = p.split('@');
    if (at.length > 2)
        return 'has more than one "@"';
    if (at.length === 2) {
        const [local, domain] = at;
        if (!local || !PART.test(local))
            return `has an invalid mailbox part "${local}"`;
        if (!domain || !DOMAIN.test(domain))
            return `has an invalid domain part "${domain}"`;
        return null;
    }
    if (!DOMAIN.test(p) || !p.includes('.'))
        return 'is neither an address (name@domain) nor a domain (example.com, *.example.org)';
    return null;
}
function toRegExp(pattern) {
    const p = pattern.trim().toLowerCase();
    const full = p.includes('@') ? p : p.startsWith('*.') ? `*@${p}` : `*@${p}`;
    const esc = full.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    return new RegExp(`^${esc}$`, 'i');
}
function matchesAny(address, patterns) {
    return patterns.some((p) => toRegExp(p).test(address.trim()));
}
//# sourceMappingURL=patterns.js.map