/** Option parsers shared by the commands: each names the option and the accepted values in its error. */
import { InvalidArgumentError } from 'commander';

export function parseNumber(name: string, min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

export function parseInteger(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${value}'`);
    return n;
  };
}

export function choice<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    if (!values.includes(value as T)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got '${value}'`);
    return value as T;
  };
}

/** "min,max" zoom range of augmentation crops, 1 ≤ min ≤ max. */
export function parseScaleRange(value: string): [number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[0]! < 1 || parts[1]! < parts[0]!) {
    throw new InvalidArgumentError(`--scale-range takes "min,max" with 1 ≤ min ≤ max, got '${value}'`);
  }
  return [parts[0]!, parts[1]!];
}
