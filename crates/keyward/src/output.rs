//! Printing results: a table or key/value list for people, JSON for scripts.

use comfy_table::Table;
use serde_json::Value;

use crate::cli::Format;

pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// An object as two columns of field and value.
pub fn print_object(format: Format, v: &Value) {
    if format == Format::Json {
        return print_json(v);
    }
    let mut table = Table::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            if let Value::Array(items) = val
                && items.iter().all(Value::is_object)
                && !items.is_empty()
            {
                continue;
            }
            table.add_row(vec![k.clone(), cell(val)]);
        }
    }
    println!("{table}");
}

/// A list of objects as a table with the given columns.
pub fn print_rows(format: Format, whole: &Value, rows: &[Value], columns: &[&str]) {
    if format == Format::Json {
        return print_json(whole);
    }
    let mut table = Table::new();
    table.set_header(columns.to_vec());
    for r in rows {
        table.add_row(columns.iter().map(|c| cell(&r[*c])).collect::<Vec<_>>());
    }
    println!("{table}");
}
