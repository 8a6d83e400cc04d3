//! The definitions a [`Kind`] carries: columns, tables, sequences,
//! constraints, aggregates, large objects, roles, planner statistics and
//! the parts split off to break dependency loops.
use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::Kind;
use super::{Acl, QName};

/// Sequence options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceOptions {
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    /// START WITH.
    pub start: i64,
    /// INCREMENT BY.
    pub increment: i64,
    /// MINVALUE.
    pub min: i64,
    /// MAXVALUE.
    pub max: i64,
    /// CACHE.
    pub cache: i64,
    /// CYCLE.
    pub cycle: bool,
}

/// Identity column definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// ALWAYS (else BY DEFAULT).
    pub always: bool,
    /// The identity sequence.
    pub sequence: QName,
    /// Its options.
    pub options: SequenceOptions,
    /// Privileges on the identity sequence.
    #[serde(default)]
    pub acl: Acl,
    /// The sequence is unlogged (PostgreSQL 15+).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlogged: bool,
}

/// One table column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type as `format_type` prints it (schema-qualified where needed).
    pub type_sql: String,
    /// NOT NULL.
    pub not_null: bool,
    /// Name of the NOT NULL constraint (PostgreSQL 18+ stores them in
    /// `pg_constraint`) when it is not the default `<table>_<column>_not_null`,
    /// e.g. a partition's constraint inherited from its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null_name: Option<String>,
    /// DEFAULT expression.
    pub default: Option<String>,
    /// Identity column.
    pub identity: Option<Identity>,
    /// Generated-column expression (`GENERATED ALWAYS AS (...) STORED`, or
    /// `VIRTUAL` when [`Column::generated_virtual`]).
    pub generated: Option<String>,
    /// The generated column is virtual (PostgreSQL 18+, `attgenerated = 'v'`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated_virtual: bool,
    /// Non-default collation, qualified.
    pub collation: Option<String>,
    /// Non-default storage: `PLAIN`, `EXTERNAL`, `EXTENDED`, `MAIN`.
    pub storage: Option<String>,
    /// Non-default compression method.
    pub compression: Option<String>,
    /// Non-default statistics target.
    pub stat_target: Option<i32>,
    /// Attribute options (`n_distinct=...`).
    pub options: Vec<String>,
    /// Defined locally (not only inherited).
    pub is_local: bool,
    /// Column comment.
    pub comment: Option<String>,
    /// Column privileges.
    pub acl: Acl,
    /// A foreign table column's `OPTIONS (...)` items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fdw_options: Vec<String>,
}

/// How a table's data is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CopyFormat {
    /// `FORMAT binary`: the default.
    Binary,
    /// Text format, for tables whose binary form embeds type OIDs
    /// (arrays of user types, composites) or lacks send/receive functions.
    Text,
}

/// A CHECK constraint rendered inside `CREATE TABLE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InlineCheck {
    /// Constraint name.
    pub name: String,
    /// `CHECK (...)` as `pg_get_constraintdef` prints it.
    pub def: String,
    /// Constraint comment.
    pub comment: Option<String>,
}

/// Table definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableDef {
    /// `p`ermanent or `u`nlogged.
    pub unlogged: bool,
    /// Columns in attnum order (dropped columns omitted).
    pub columns: Vec<Column>,
    /// CHECK constraints created with the table.
    pub checks: Vec<InlineCheck>,
    /// `PARTITION BY ...` for partitioned tables.
    pub partition_key: Option<String>,
    /// Parent and `FOR VALUES ...`/`DEFAULT` for partitions.
    pub partition_of: Option<(QName, String)>,
    /// Inheritance parents, in order.
    pub inherits: Vec<QName>,
    /// Storage parameters.
    pub reloptions: Vec<String>,
    /// Non-heap table access method.
    pub access_method: Option<String>,
    /// `f`ull or `n`othing replica identity (index identity is on the index).
    pub replica_identity: Option<char>,
    /// A typed table (`CREATE TABLE ... OF type`): the type, qualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_type: Option<String>,
    /// A foreign table: its server and options (no data is copied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign: Option<ForeignTable>,
}

/// What makes a table a foreign table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForeignTable {
    /// The foreign server.
    pub server: String,
    /// `OPTIONS (...)` items.
    pub options: Vec<String>,
}

/// Constraint kinds rendered as their own post-data object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintKind {
    /// PRIMARY KEY.
    PrimaryKey,
    /// UNIQUE.
    Unique,
    /// EXCLUDE.
    Exclude,
    /// FOREIGN KEY.
    ForeignKey,
    /// CHECK created NOT VALID.
    Check,
}

/// An aggregate's definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AggregateDef {
    /// Argument list, as `pg_get_function_arguments` prints it.
    pub args: String,
    /// Identity arguments (for COMMENT/GRANT).
    pub identity_args: String,
    /// `SFUNC = ..., STYPE = ...` etc., ready to paste into the parenthesis.
    pub options: Vec<String>,
}

/// One large object's metadata (its data travels in the archive).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LargeObject {
    /// Its OID, kept on restore.
    pub oid: u32,
    /// Owning role.
    pub owner: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// `COMMENT ON LARGE OBJECT`.
    pub comment: Option<String>,
}

/// A role's attributes (`CREATE ROLE ... WITH`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleAttributes {
    /// SUPERUSER.
    pub superuser: bool,
    /// INHERIT.
    pub inherit: bool,
    /// CREATEROLE.
    pub createrole: bool,
    /// CREATEDB.
    pub createdb: bool,
    /// LOGIN.
    pub login: bool,
    /// REPLICATION.
    pub replication: bool,
    /// BYPASSRLS.
    pub bypassrls: bool,
    /// CONNECTION LIMIT (-1: none).
    pub connection_limit: i32,
    /// VALID UNTIL, as text.
    pub valid_until: Option<String>,
}

/// Membership of a role in another (`GRANT group TO member`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The group role.
    pub group: String,
    /// WITH ADMIN OPTION.
    pub admin: bool,
    /// INHERIT option (PostgreSQL 16+; `None` from older sources).
    pub inherit: Option<bool>,
    /// SET option (PostgreSQL 16+).
    pub set: Option<bool>,
}

/// What a [`Kind::RelationStats`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatsOf {
    /// An ordinary table (or a partition).
    Table,
    /// A partitioned table (its statistics cover its partitions).
    Partitioned,
    /// A materialized view.
    MatView,
}

/// A column a [`ColumnStats`] belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatsColumn {
    /// A table's column, by name.
    Name(String),
    /// An index's column, by number (index column names are generated).
    Number(i16),
}

/// One column's planner statistics as `pg_stats` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// The column.
    pub column: StatsColumn,
    /// Statistics over the table and its inheritance children / partitions.
    pub inherited: bool,
    /// `(pg_stats column, value as text)` for every non-NULL value:
    /// `null_frac`, `avg_width`, `n_distinct`, `most_common_vals`, ...
    pub values: Vec<(String, String)>,
}

/// A part of an object split off to break a dependency loop ([`Kind::Separated`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Part {
    /// A table's CHECK constraint (`ALTER TABLE ... ADD CONSTRAINT`).
    Check(InlineCheck),
    /// A column default (`ALTER TABLE ONLY ... ALTER COLUMN ... SET DEFAULT`).
    Default {
        /// Column.
        column: String,
        /// Expression.
        expr: String,
    },
    /// A domain's CHECK constraint (`ALTER DOMAIN ... ADD CONSTRAINT`).
    DomainCheck {
        /// Constraint name.
        name: String,
        /// `CHECK (...)`.
        def: String,
        /// Constraint comment.
        #[serde(default)]
        comment: Option<String>,
    },
    /// A view's real query (`CREATE OR REPLACE VIEW`); the view itself was
    /// created over typed NULLs of its columns first.
    ViewQuery {
        /// Query.
        query: String,
        /// Options other than check_option.
        options: Vec<String>,
        /// `LOCAL` / `CASCADED`.
        check_option: Option<String>,
    },
}
