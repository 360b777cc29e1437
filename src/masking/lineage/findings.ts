/**
 * The walker's state and findings: where a value that carries a masked column flows somewhere the
 * rules (../rules/) refuse, a reason is recorded; whatever cannot be traced gets the fail-closed
 * lineage. The walk itself is split by the part of a statement it reads:
 *   expressions.ts → from.ts → queries.ts → walker.ts (statements and writes),
 * each extending the one before; the methods a part needs from a later one are declared here.
 */
import type { Node, SelectStmt } from '@pgsql/types';
import type { Reason } from '../../errors.js';
import { fallibleMessage, inferenceMessage, placeOf, REFUSED_FLOWS, writeIsSafe, writeMessage, type FlowName } from '../rules/index.js';
import type { ColumnKey, Lineage } from '../types.js';
import { maskedSources } from './algebra.js';
import type { LineageEnv, Scope, Shape } from './scope.js';

export abstract class LineageFindings {
  protected readonly reasons: Reason[] = [];
  private readonly reasonKeys = new Set<string>();
  protected unknownUsed = false;
  /** inside a view definition: its author is trusted, its predicates are not the agent's */
  protected trusted = 0;
  private readonly unknown: Lineage;
  protected readonly viewShapes = new Map<number, Shape>();

  constructor(protected readonly env: LineageEnv) {
    const all = new Set(env.relationColumns);
    for (const k of env.rules.keys()) all.add(k);
    this.unknown = { sources: all, identity: false };
  }

  // ---- implemented by the later parts of the walk ----------------------------------------------

  abstract expr(n: Node | undefined, scope: Scope): Lineage;
  protected abstract statement(root: Node, scope: Scope | undefined): Shape | undefined;
  protected abstract select(stmt: SelectStmt, parent: Scope | undefined, cteParent: Scope | undefined): Shape;
  protected abstract expandStar(qualifier: string[], scope: Scope): Shape;
  protected abstract resolvesAsColumn(name: string, scope: Scope): boolean;

  // ---- findings --------------------------------------------------------------------------------

  protected failClosed(): Lineage {
    this.unknownUsed = true;
    return this.unknown;
  }

  protected masked(l: Lineage): ColumnKey[] {
    return maskedSources(l, this.env.rules);
  }

  /**
   * A masked array column is in `l`: array constructors, `||` and array_agg fail when sub-arrays
   * differ in length, so on such a value they are an oracle on its length.
   */
  protected maskedArray(l: Lineage): boolean {
    const arrays = this.env.arrayColumns;
    return arrays !== undefined && arrays.size > 0 && this.masked(l).some((k) => arrays.has(k));
  }

  /**
   * Refuse `l` flowing into this place when it carries a masked column (REFUSED_FLOWS says why);
   * `details` fill the place's name (positional, not a rest array: this runs at every place a value
   * flows, and almost always returns at once). Inside a trusted view definition nothing is refused.
   */
  protected refuse(flow: FlowName, l: Lineage, detail1?: string | number, detail2?: string | number, detail3?: string | number): void {
    if (this.trusted > 0) return;
    const cols = this.masked(l);
    if (cols.length === 0) return;
    cols.sort();
    const { code } = REFUSED_FLOWS[flow];
    const place = placeOf(flow, [detail1 ?? '', detail2 ?? '', detail3 ?? '']);
    const key = `${code === 'masked_column_in_predicate' ? 'p' : 'f'}|${place}|${cols.join(', ')}`;
    if (this.reasonKeys.has(key)) return;
    this.reasonKeys.add(key);
    if (code === 'masked_column_in_predicate') {
      this.reasons.push({ code, message: inferenceMessage(cols, place) });
    } else {
      // Fail-closed lineage (an unknown name, a user-defined function) counts as masked: say so.
      const untraced = this.unknownUsed && [...this.unknown.sources].every((k) => l.sources.has(k));
      this.reasons.push({ code, message: fallibleMessage(cols, place, untraced) });
    }
  }

  /** Refuse a masked value written where it would read back unmasked (see writeIsSafe). */
  protected guardWrite(value: Lineage, target: { label: string; lineage: Lineage }): void {
    if (this.trusted > 0) return;
    const cols = this.masked(value);
    if (cols.length === 0) return;
    const targetMaskers = this.masked(target.lineage).map((k) => this.env.rules.get(k)!);
    if (writeIsSafe({ identity: value.identity, maskers: cols.map((k) => this.env.rules.get(k)!) }, targetMaskers)) return;
    cols.sort();
    const key = `w|${target.label}|${cols.join(', ')}`;
    if (this.reasonKeys.has(key)) return;
    this.reasonKeys.add(key);
    this.reasons.push({ code: 'masked_column_in_write', message: writeMessage(cols, target.label) });
  }

  /** An expression in a place that decides rows, order or branches. */
  protected predicate(n: Node | undefined, scope: Scope, flow: FlowName): void {
    if (n === undefined) return;
    this.refuse(flow, this.expr(n, scope));
  }
}
