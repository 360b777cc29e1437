/**
 * The walkers' state and findings: where a value that carries a masked column flows somewhere the
 * rules (../rules/) refuse, a reason is recorded; whatever cannot be traced gets the fail-closed
 * lineage. MaskedFlowFindings is what both engines' walkers share (the MySQL walker,
 * src/engine/mysql/masking-walker.ts, extends it); LineageFindings is PostgreSQL's, whose walk is
 * split by the part of a statement it reads:
 *   expressions.ts → from.ts → queries.ts → walker.ts (statements and writes),
 * each extending the one before; the methods a part needs from a later one are declared here.
 */
import type { Node, SelectStmt } from '@pgsql/types';
import type { Reason } from '../../errors.js';
import type { MaskerName } from '../../policy/schema.js';
import { fallibleMessage, inferenceMessage, MAX_WEIGHT, placeOf, REFUSED_FLOWS, writeIsSafe, writeMessage, type FlowName } from '../rules/index.js';
import type { ColumnKey, Lineage } from '../types.js';
import { maskedSources, NO_SOURCES, weightOf } from './algebra.js';
import type { LineageEnv, Scope, Shape } from './scope.js';

/** What the findings need of an engine's lineage environment. */
export interface MaskedFlowEnv {
  rules: ReadonlyMap<ColumnKey, MaskerName>;
  /** every column of every relation the statement (and its views) names */
  relationColumns: ReadonlySet<ColumnKey>;
}

/** Reasons found so far, de-duplicated, and the fail-closed lineage; the same for every engine. */
export abstract class MaskedFlowFindings<E extends MaskedFlowEnv> {
  protected readonly reasons: Reason[] = [];
  private readonly reasonKeys = new Set<string>();
  protected unknownUsed = false;
  /** inside a view definition: its author is trusted, its clauses are not the agent's */
  protected trusted = 0;
  private readonly unknown: Lineage;

  constructor(protected readonly env: E) {
    const all = new Set(env.relationColumns);
    for (const k of env.rules.keys()) all.add(k);
    this.unknown = { sources: all, identity: false };
  }

  protected failClosed(): Lineage {
    this.unknownUsed = true;
    return this.unknown;
  }

  protected masked(l: Lineage): ColumnKey[] {
    return maskedSources(l, this.env.rules);
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

  /**
   * Refuse a value that may hold too many copies of masked bytes (nested concatenations, escaping):
   * amplified, its size would reach the server's limit (PostgreSQL's 1 GB, MySQL's
   * max_allowed_packet), or its time the statement timeout, depending on how long the masked value is.
   */
  protected bounded(l: Lineage, what: string): Lineage {
    if (weightOf(l) > MAX_WEIGHT) this.refuse('sizeWeight', l, what, weightOf(l), MAX_WEIGHT);
    return l;
  }

  /** Guard every output column of a query written into a new table or view. */
  protected guardShapeWrite(shape: { columns: readonly { lineage: Lineage }[] | undefined; whole: Lineage }, label: string): void {
    for (const c of shape.columns ?? [{ lineage: shape.whole }]) this.guardWrite(c.lineage, { label, lineage: NO_SOURCES });
  }
}

export abstract class LineageFindings extends MaskedFlowFindings<LineageEnv> {
  protected readonly viewShapes = new Map<number, Shape>();

  // ---- implemented by the later parts of the walk ----------------------------------------------

  abstract expr(n: Node | undefined, scope: Scope): Lineage;
  protected abstract statement(root: Node, scope: Scope | undefined): Shape | undefined;
  protected abstract select(stmt: SelectStmt, parent: Scope | undefined, cteParent: Scope | undefined): Shape;
  protected abstract expandStar(qualifier: string[], scope: Scope): Shape;
  protected abstract resolvesAsColumn(name: string, scope: Scope): boolean;

  // ---- findings --------------------------------------------------------------------------------

  /**
   * A masked array column is in `l`: array constructors, `||` and array_agg fail when sub-arrays
   * differ in length, so on such a value they are an oracle on its length.
   */
  protected maskedArray(l: Lineage): boolean {
    const arrays = this.env.arrayColumns;
    return arrays !== undefined && arrays.size > 0 && this.masked(l).some((k) => arrays.has(k));
  }

  /** An expression in a place that decides rows, order or branches. */
  protected predicate(n: Node | undefined, scope: Scope, flow: FlowName): void {
    if (n === undefined) return;
    this.refuse(flow, this.expr(n, scope));
  }
}
