// The docker provider takes durations as Go duration strings.
export function seconds(s: number): string {
    return Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`;
}
