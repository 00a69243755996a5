// Deterministic order: plans sort what they list, so that the order of a list in a stack file changes nothing.

/** Code-unit order, the same on every machine and locale. */
export function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy of `rec` with its keys sorted. */
export function sortedRecord(rec: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(rec).sort(([a], [b]) => compare(a, b)));
}

/** A sorted copy of `items`, ordered by the string `key` gives each. */
export function sortedBy<T>(items: readonly T[], key: (item: T) => string): T[] {
    return [...items].sort((a, b) => compare(key(a), key(b)));
}
