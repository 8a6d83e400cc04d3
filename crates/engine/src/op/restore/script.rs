//! `restore -f`: an archive turned, without a server, into the script
//! `dump --format plain` writes: definitions rendered as a restore renders
//! them, rows converted from the archive's binary COPY into `COPY … FROM
//! stdin` text blocks, large objects into `lo_put` calls.
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use pgferry_catalog::{
    large_object_statements, render_object, Catalog, CopyFormat, Kind, Object, QName,
    RenderOptions, TableDef,
};
use pgferry_format::{entry_stream, BinaryToText, TextType};

use super::{choose, RestoreOptions};
use crate::archive::atomic::AtomicFile;
use crate::archive::reader::open_archive;
use crate::error::Error;
use crate::script::{copy_from_stdin, header, heading, lo_put, statements, COMPLETE, COPY_END};
use crate::target::clean::clean_statements;

/// What [`restore_to_script`] wrote.
#[derive(Debug, Clone, Default)]
pub struct ScriptSummary {
    /// Objects written.
    pub objects: usize,
    /// Tables whose rows were written.
    pub tables: usize,
    /// Rows written.
    pub rows: u64,
}

/// Writes the plain SQL script of the archive at `path` to `script` (`-`:
/// stdout), choosing objects as [`super::restore`] does (filters,
/// sections, list file; `clean` drops first). A file is written under a
/// temporary name and renamed when complete. Rows of a type pgferry cannot
/// print without a server (a user-defined base type, say) are refused
/// before anything is written, naming the column.
///
/// ```no_run
/// use pgferry_engine::{restore_to_script, RestoreOptions};
/// restore_to_script("app.pgf".as_ref(), "app.sql".as_ref(), &RestoreOptions::default())?;
/// # Ok::<(), pgferry_engine::Error>(())
/// ```
pub fn restore_to_script(
    path: &Path,
    script: &Path,
    opts: &RestoreOptions,
) -> Result<ScriptSummary, Error> {
    let mut archive = open_archive(path)?;
    let objects = choose(&archive, opts)?;
    let types = Types::of(&archive.catalog);
    let mut columns = HashMap::new();
    for o in &objects {
        if let Kind::TableData {
            table,
            columns: cols,
            format: CopyFormat::Binary,
            ..
        } = &o.kind
        {
            columns.insert(o.id, types.columns(table, cols)?);
        }
    }
    let render = RenderOptions {
        keep_owners: opts.keep_owners,
        omit: opts.omit.or(archive.catalog.omit),
        ..Default::default()
    };
    let mut write = |out: &mut dyn Write| -> Result<ScriptSummary, Error> {
        let mut w = Writer {
            out: BufWriter::with_capacity(1 << 20, out),
        };
        let mut done = ScriptSummary::default();
        w.put(header(&archive.catalog).as_bytes())?;
        if opts.clean {
            w.put(b"\n")?;
            w.put(statements(&clean_statements(&objects)).as_bytes())?;
        }
        for o in &objects {
            done.objects += 1;
            match &o.kind {
                Kind::TableData {
                    table,
                    columns: cols,
                    parts,
                    load_via,
                    ..
                } => {
                    let into = load_via.as_ref().unwrap_or(table);
                    w.put(heading(o).as_bytes())?;
                    w.put(copy_from_stdin(into, cols).as_bytes())?;
                    let convert = columns.get(&o.id).cloned().map(BinaryToText::new);
                    done.rows += w.rows(&mut archive.reader, path, o, *parts, convert)?;
                    w.put(COPY_END.as_bytes())?;
                    done.tables += 1;
                }
                Kind::LargeObjects { items } => {
                    w.put(heading(o).as_bytes())?;
                    let (create, after) = large_object_statements(items, &render);
                    w.put(statements(&create).as_bytes())?;
                    w.large_objects(&mut archive.reader, path, o)?;
                    w.put(statements(&after).as_bytes())?;
                }
                _ => {
                    let stmts = render_object(o, &render);
                    if !stmts.is_empty() {
                        w.put(heading(o).as_bytes())?;
                        w.put(statements(&stmts).as_bytes())?;
                    }
                }
            }
        }
        w.put(b"\n")?;
        w.put(COMPLETE.as_bytes())?;
        w.out.flush().map_err(io)?;
        Ok(done)
    };
    if script.as_os_str() == "-" {
        return write(&mut std::io::stdout().lock());
    }
    let (file, mut out) = AtomicFile::create(script)?;
    let done = write(&mut out)?;
    drop(out);
    file.commit()?;
    Ok(done)
}

fn corrupt(path: &Path, message: String) -> Error {
    Error::Archive {
        path: path.to_path_buf(),
        source: pgferry_format::FormatError::Corrupt(message),
    }
}

fn io(source: std::io::Error) -> Error {
    Error::Io {
        path: "script".into(),
        source,
    }
}

/// Hands each frame of archive entry `id` (its `parts` joined) to `f`,
/// stopping at `f`'s first error, which is returned; `Ok(false)` when the
/// stream stopped before its end otherwise.
fn each_frame(
    reader: &mut Reader,
    path: &Path,
    id: u32,
    parts: u32,
    mut f: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<bool, Error> {
    let mut failed = None;
    let sent = entry_stream(reader, id, parts, |frame| match f(&frame) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })
    .map_err(|source| Error::Archive {
        path: path.to_path_buf(),
        source,
    })?;
    failed.map_or(Ok(sent), Err)
}

struct Writer<'a> {
    out: BufWriter<&'a mut dyn Write>,
}

type Reader = pgferry_format::ArchiveReader<std::io::BufReader<std::fs::File>>;

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out.write_all(bytes).map_err(io)
    }

    /// One table's rows: the archive's COPY stream, converted from binary
    /// when `convert` says how (a text COPY stream goes as it is).
    fn rows(
        &mut self,
        reader: &mut Reader,
        path: &Path,
        o: &Object,
        parts: u32,
        mut convert: Option<BinaryToText>,
    ) -> Result<u64, Error> {
        let mut text = Vec::new();
        let mut lines = 0u64;
        let sent = each_frame(reader, path, o.id, parts, |frame| {
            text.clear();
            let chunk: &[u8] = match &mut convert {
                Some(c) => {
                    c.feed(frame, &mut text)
                        .map_err(|m| corrupt(path, format!("{}: {m}", o.display_name())))?;
                    &text
                }
                None => {
                    lines += frame.iter().filter(|&&b| b == b'\n').count() as u64;
                    frame
                }
            };
            self.put(chunk)
        })?;
        if !sent {
            return Err(Error::Worker("the script writer stopped".into()));
        }
        match convert {
            Some(c) => c
                .finish()
                .map_err(|m| corrupt(path, format!("{}: {m}", o.display_name()))),
            None => Ok(lines),
        }
    }

    /// The large objects' contents, `lo_put` each, from the archive's
    /// (oid, bytea) rows.
    fn large_objects(&mut self, reader: &mut Reader, path: &Path, o: &Object) -> Result<(), Error> {
        let mut text = Vec::new();
        let mut convert = BinaryToText::new(vec![TextType::Oid, TextType::Bytea]);
        each_frame(reader, path, o.id, 0, |frame| {
            convert
                .feed(frame, &mut text)
                .map_err(|m| corrupt(path, format!("large objects: {m}")))
        })?;
        // Each line: `OID\t\\xHEX` (COPY text doubles the backslash).
        for line in String::from_utf8_lossy(&text).lines() {
            let Some((oid, hex)) = line.split_once('\t') else {
                continue;
            };
            let hex = hex.trim_start_matches("\\\\x");
            if !hex.is_empty() {
                self.put(lo_put(oid, hex).as_bytes())?;
            }
        }
        Ok(())
    }
}

/// The archive's tables and types, to tell each column's binary format.
struct Types<'a> {
    tables: HashMap<QName, &'a TableDef>,
    types: HashMap<String, &'a Object>,
    /// Extension types whose binary form pgferry knows, by qualified name:
    /// `citext` (text) and `hstore`, in the schema their extension is in.
    extension_types: HashMap<String, TextType>,
}

impl<'a> Types<'a> {
    fn of(catalog: &'a Catalog) -> Types<'a> {
        let mut tables = HashMap::new();
        let mut types = HashMap::new();
        let mut extension_types = HashMap::new();
        for o in &catalog.objects {
            match &o.kind {
                Kind::Extension { schema, .. } => {
                    let t = match o.name.as_str() {
                        "citext" => TextType::Text,
                        "hstore" => TextType::Hstore,
                        _ => continue,
                    };
                    extension_types.insert(pgferry_catalog::qualified(schema, &o.name), t);
                }
                Kind::Table(def) => {
                    if let Some(q) = o.qname() {
                        tables.insert(q, def.as_ref());
                    }
                }
                Kind::Domain { .. }
                | Kind::Enum { .. }
                | Kind::Composite { .. }
                | Kind::Range { .. } => {
                    types.insert(o.qualified_name(), o);
                }
                _ => {}
            }
        }
        Types {
            tables,
            types,
            extension_types,
        }
    }

    /// The text types of `columns` of `table`, or why one cannot be printed.
    fn columns(&self, table: &QName, columns: &[String]) -> Result<Vec<TextType>, Error> {
        columns
            .iter()
            .map(|c| {
                let type_sql = self.column_type(table, c, 0).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "restore -f: the archive does not say the type of {table}.{c}"
                    ))
                })?;
                self.resolve(type_sql, 0).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "restore -f: column {table}.{c} is of type {type_sql}, which pgferry cannot print \
                         without a server; write the script from the source with pgferry dump --format plain"
                    ))
                })
            })
            .collect()
    }

    /// A column's type, from the table or the tables it inherits from.
    fn column_type(&self, table: &QName, column: &str, depth: usize) -> Option<&'a str> {
        let def = self.tables.get(table)?;
        if let Some(c) = def.columns.iter().find(|c| c.name == column) {
            return Some(&c.type_sql);
        }
        if depth > 32 {
            return None;
        }
        def.partition_of
            .iter()
            .map(|(parent, _)| parent)
            .chain(&def.inherits)
            .find_map(|p| self.column_type(p, column, depth + 1))
    }

    /// How a type's binary values print: built-in types, arrays, and the
    /// archive's domains, enums, composites and ranges over them.
    fn resolve(&self, type_sql: &str, depth: usize) -> Option<TextType> {
        if depth > 32 {
            return None;
        }
        if let Some(t) = TextType::builtin(type_sql) {
            return Some(t);
        }
        if let Some(element) = type_sql.strip_suffix("[]") {
            return Some(TextType::Array(Box::new(self.resolve(element, depth + 1)?)));
        }
        if let Some(t) = self.extension_types.get(type_sql) {
            return Some(t.clone());
        }
        match &self.types.get(type_sql)?.kind {
            Kind::Domain { base, .. } => self.resolve(base, depth + 1),
            Kind::Enum { .. } => Some(TextType::Text),
            Kind::Composite { attributes, .. } => Some(TextType::Record(
                attributes
                    .iter()
                    .map(|(_, t, _)| self.resolve(t, depth + 1))
                    .collect::<Option<Vec<_>>>()?,
            )),
            Kind::Range { options } => {
                let subtype = options.iter().find_map(|o| {
                    let (k, v) = o.split_once('=')?;
                    (k.trim().eq_ignore_ascii_case("subtype")).then(|| v.trim())
                })?;
                Some(TextType::Range(Box::new(self.resolve(subtype, depth + 1)?)))
            }
            _ => None,
        }
    }
}
