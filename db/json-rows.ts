import { getTableColumns, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

// A row PostgreSQL built as JSON (`to_jsonb(t)`, inside a `jsonb_agg`) so that a table's rows ride
// along in another query's round trip: its keys are the table's column names and its values JSON,
// mapped here column by column as drizzle maps a row it read itself (timestamps to Dates).
export function rowFromJson<T extends PgTable>(table: T, json: Record<string, unknown>): InferSelectModel<T> {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = json[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<T>;
}
