//! The typed model of a database's schema, as read from `pg_catalog`.
use serde::{Deserialize, Serialize};

/// Version of the catalog model serialization, bumped when archives gain
/// what an older reader cannot take (2: planner statistics,
/// [`Kind::RelationStats`]). Readers take every version up to theirs.
pub const MODEL_VERSION: u32 = 2;

/// Everything read from one database, in restore order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    /// [`MODEL_VERSION`] of the writer.
    pub model_version: u32,
    /// `server_version_num` of the source, e.g. 150004.
    pub server_version_num: i32,
    /// `server_version` of the source, e.g. "15.4 (Debian ...)".
    pub server_version: String,
    /// Source database name.
    pub database: String,
    /// Server encoding of the source.
    pub encoding: String,
    /// Objects sorted so that each one comes after everything it depends on.
    pub objects: Vec<Object>,
    /// What the source holds that pgferry cannot carry (a dump warns about
    /// each; a restore or sync that includes one of the objects refuses to
    /// start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<Unsupported>,
}

/// Something pgferry cannot carry, and the objects it concerns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unsupported {
    /// Ids of the objects concerned (a restore that filters all of them out
    /// is not concerned).
    pub ids: Vec<u32>,
    /// What it is, naming the objects.
    pub what: String,
}

impl Catalog {
    /// The entries of [`Catalog::unsupported`] that concern any of `objects`.
    pub fn unsupported_in<'a>(&'a self, objects: &[Object]) -> Vec<&'a Unsupported> {
        let ids: std::collections::HashSet<u32> = objects.iter().map(|o| o.id).collect();
        self.unsupported
            .iter()
            .filter(|u| u.ids.is_empty() || u.ids.iter().any(|i| ids.contains(i)))
            .collect()
    }
}

/// Where an object belongs in a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Section {
    /// Definitions needed before data can be loaded.
    PreData,
    /// Table data and sequence values.
    Data,
    /// Indexes, constraints, triggers and everything best created after the data.
    PostData,
}

/// One privilege granted on an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `None` means PUBLIC.
    pub grantee: Option<String>,
    /// Role that granted it.
    pub grantor: String,
    /// `SELECT`, `USAGE`, ...
    pub privilege: String,
    /// WITH GRANT OPTION.
    pub grantable: bool,
}

/// An object's ACL: `None` is the built-in default (never changed).
pub type Acl = Option<Vec<Grant>>;

/// One dumpable object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Object {
    /// Dump id, unique in the catalog; data entries in archives use it.
    pub id: u32,
    /// Schema, for schema-qualified objects.
    pub schema: Option<String>,
    /// Name (for functions, without arguments; for table-level objects, the object's own name).
    pub name: String,
    /// Owning role.
    pub owner: Option<String>,
    /// `COMMENT ON` text.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Ids of objects that must exist first.
    pub deps: Vec<u32>,
    /// Kind-specific definition.
    pub kind: Kind,
}

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QName {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
}

impl QName {
    /// Quoted `schema.name`.
    pub fn sql(&self) -> String {
        crate::qualified(&self.schema, &self.name)
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

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

/// `COPY` of every large object's OID and contents (`lo_get`: at most 1 GB each).
pub const LARGE_OBJECTS_COPY_OUT: &str = "COPY (SELECT m.oid, pg_catalog.lo_get(m.oid) \
     FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid) TO STDOUT (FORMAT binary)";

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

/// Kind-specific definitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Kind {
    /// A schema.
    Schema,
    /// An extension.
    Extension {
        /// Schema it was installed into.
        schema: String,
        /// Installed version.
        version: String,
    },
    /// A collation: `provider = ..., locale = ...` options.
    Collation {
        /// `CREATE COLLATION` options.
        options: Vec<String>,
    },
    /// An enum type.
    Enum {
        /// Labels in sort order.
        labels: Vec<String>,
    },
    /// A domain.
    Domain {
        /// Base type.
        base: String,
        /// Collation.
        collation: Option<String>,
        /// DEFAULT.
        default: Option<String>,
        /// NOT NULL.
        not_null: bool,
        /// (name, definition, validated).
        constraints: Vec<(String, String, bool)>,
        /// Comments on the domain's constraints: (constraint, comment).
        #[serde(default)]
        constraint_comments: Vec<(String, String)>,
    },
    /// A composite type: (attribute, type, collation).
    Composite {
        /// Attributes.
        attributes: Vec<(String, String, Option<String>)>,
        /// Comments on attributes: (attribute, comment).
        #[serde(default)]
        attribute_comments: Vec<(String, String)>,
    },
    /// A range type.
    Range {
        /// `SUBTYPE = ...` etc.
        options: Vec<String>,
    },
    /// A function or procedure (`CREATE FUNCTION` text from `pg_get_functiondef`).
    Function {
        /// Definition.
        def: String,
        /// Identity arguments.
        identity_args: String,
        /// Procedure (not function).
        procedure: bool,
    },
    /// An aggregate.
    Aggregate(AggregateDef),
    /// An operator.
    Operator {
        /// Left operand type or `NONE`.
        left: Option<String>,
        /// Right operand type.
        right: Option<String>,
        /// `FUNCTION = ...` etc.
        options: Vec<String>,
    },
    /// A sequence.
    Sequence {
        /// Options.
        options: SequenceOptions,
        /// UNLOGGED.
        unlogged: bool,
    },
    /// `ALTER SEQUENCE ... OWNED BY`.
    SequenceOwnedBy {
        /// Sequence.
        sequence: QName,
        /// Table.
        table: QName,
        /// Column.
        column: String,
    },
    /// A table.
    Table(Box<TableDef>),
    /// A view.
    View {
        /// Query.
        query: String,
        /// Options other than check_option.
        options: Vec<String>,
        /// `LOCAL` / `CASCADED`.
        check_option: Option<String>,
        /// Column defaults: (column, expression).
        column_defaults: Vec<(String, String)>,
        /// Column comments.
        column_comments: Vec<(String, String)>,
        /// Columns as (name, type, collation), for the placeholder a view in
        /// a dependency loop is first created as.
        #[serde(default)]
        columns: Vec<(String, String, Option<String>)>,
        /// The query is created separately ([`Part::ViewQuery`]); the view
        /// starts as typed NULLs of its columns.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        placeholder: bool,
    },
    /// A materialized view (created empty; see [`Kind::MatViewRefresh`]).
    MatView {
        /// Query.
        query: String,
        /// Storage options.
        options: Vec<String>,
        /// Column comments.
        column_comments: Vec<(String, String)>,
        /// Non-heap table access method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_method: Option<String>,
    },
    /// A text search dictionary.
    TsDictionary {
        /// Template, qualified.
        template: String,
        /// Init options text.
        options: Option<String>,
    },
    /// A text search configuration.
    TsConfiguration {
        /// Parser, qualified.
        parser: String,
        /// (token type alias, dictionaries).
        mappings: Vec<(String, String)>,
    },
    /// A table's rows.
    TableData {
        /// The table.
        table: QName,
        /// Copied columns, in order (generated columns excluded).
        columns: Vec<String>,
        /// Copy format.
        format: CopyFormat,
        /// Columns read through a cast to keep their exact text: (column,
        /// type). `xml` output drops the XML declaration and leading
        /// newlines; `xml::text` returns the stored value unchanged.
        #[serde(default)]
        casts: Vec<(String, String)>,
        /// Number of block-range parts the data was dumped in (0 or 1: one
        /// stream in entry `id`; n > 1: entries `pgferry_format::part_entry(id, 0..n)`,
        /// each a complete COPY BINARY stream).
        #[serde(default)]
        parts: u32,
        /// Only the rows this `WHERE …` clause selects: an extension's
        /// configuration table (`pg_extension_config_dump`), whose table the
        /// extension creates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
    },
    /// A sequence's current value.
    SequenceSet {
        /// Sequence.
        sequence: QName,
        /// last_value.
        last_value: i64,
        /// is_called.
        is_called: bool,
    },
    /// PK/UNIQUE/EXCLUDE/FK or a NOT VALID CHECK.
    Constraint {
        /// Table.
        table: QName,
        /// Kind.
        kind: ConstraintKind,
        /// `pg_get_constraintdef`.
        def: String,
        /// Table is partitioned (FKs are then added without ONLY).
        on_partitioned: bool,
        /// Index is the table's replica identity.
        replica_identity: bool,
        /// Index is clustered.
        clustered: bool,
        /// Comment on the constraint's index.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index_comment: Option<String>,
    },
    /// An index.
    Index {
        /// Table.
        table: QName,
        /// `pg_get_indexdef`.
        def: String,
        /// Clustered on.
        clustered: bool,
        /// Replica identity index.
        replica_identity: bool,
        /// Per-column statistics targets: (column number, target).
        stat_targets: Vec<(i16, i32)>,
    },
    /// `ALTER INDEX parent ATTACH PARTITION child`.
    IndexAttach {
        /// Parent index.
        parent: QName,
        /// Child index.
        child: QName,
    },
    /// A trigger.
    Trigger {
        /// Table.
        table: QName,
        /// `pg_get_triggerdef`.
        def: String,
        /// `O`, `D`, `R` or `A` (tgenabled).
        enabled: char,
    },
    /// The enable state of a trigger a partition got from its parent's,
    /// where it differs from the parent's.
    TriggerState {
        /// The partition.
        table: QName,
        /// The trigger.
        trigger: String,
        /// `O`, `D`, `R` or `A`.
        enabled: char,
    },
    /// A rule.
    Rule {
        /// Table.
        table: QName,
        /// `pg_get_ruledef`.
        def: String,
        /// `O`, `D`, `R` or `A`.
        enabled: char,
    },
    /// `ALTER TABLE ... ENABLE/FORCE ROW LEVEL SECURITY`.
    RowSecurity {
        /// Table.
        table: QName,
        /// FORCE.
        force: bool,
    },
    /// A row security policy.
    Policy {
        /// Table.
        table: QName,
        /// PERMISSIVE (else RESTRICTIVE).
        permissive: bool,
        /// ALL / SELECT / INSERT / UPDATE / DELETE.
        command: String,
        /// Roles; `None` is PUBLIC.
        roles: Vec<Option<String>>,
        /// USING.
        using: Option<String>,
        /// WITH CHECK.
        with_check: Option<String>,
    },
    /// An extended statistics object.
    Statistics {
        /// `pg_get_statisticsobjdef`.
        def: String,
        /// Statistics target.
        target: Option<i32>,
    },
    /// `REFRESH MATERIALIZED VIEW`.
    MatViewRefresh {
        /// The materialized view.
        view: QName,
    },
    /// Every large object of the database (data in the archive entry `id`).
    LargeObjects {
        /// Metadata, by OID.
        items: Vec<LargeObject>,
    },
    /// A user-defined cast.
    Cast {
        /// Source type.
        source: String,
        /// Target type.
        target: String,
        /// `WITH FUNCTION f(args)`, `WITHOUT FUNCTION` or `WITH INOUT`.
        method: String,
        /// `e`xplicit, `a`ssignment or `i`mplicit.
        context: char,
    },
    /// A logical replication publication.
    Publication {
        /// FOR ALL TABLES.
        all_tables: bool,
        /// `publish = '...'` and other WITH options.
        options: Vec<String>,
        /// Tables: (table, column list, row filter).
        tables: Vec<(QName, Option<String>, Option<String>)>,
        /// `TABLES IN SCHEMA` (PostgreSQL 15+).
        schemas: Vec<String>,
    },
    /// An event trigger (created last, so it cannot fire during the restore).
    EventTrigger {
        /// Event (`ddl_command_start`, ...).
        event: String,
        /// `WHEN TAG IN (...)`.
        tags: Vec<String>,
        /// Function, qualified.
        function: String,
        /// `O`, `D`, `R` or `A`.
        enabled: char,
    },
    /// A base type (`CREATE TYPE name (INPUT = ..., OUTPUT = ...)`), created
    /// after its shell ([`Kind::ShellType`]) and its I/O functions.
    BaseType {
        /// `INPUT = ...`, `OUTPUT = ...`, `INTERNALLENGTH = ...`, ...
        options: Vec<String>,
    },
    /// `CREATE TYPE name`: the shell a base type's I/O functions are
    /// declared over (or a shell type nothing ever completed).
    ShellType,
    /// `CREATE ACCESS METHOD name TYPE INDEX|TABLE HANDLER f`.
    AccessMethod {
        /// `INDEX` or `TABLE`.
        am_type: String,
        /// Handler function, qualified.
        handler: String,
    },
    /// `CREATE OPERATOR FAMILY`, with the members that belong to the family
    /// but to none of its classes (`ALTER OPERATOR FAMILY ... ADD`).
    OperatorFamily {
        /// Access method.
        method: String,
        /// `OPERATOR n op(type, type)` / `FUNCTION n (type, type) f(args)` items.
        members: Vec<String>,
    },
    /// `CREATE OPERATOR CLASS`.
    OperatorClass {
        /// Access method.
        method: String,
        /// Indexed data type.
        for_type: String,
        /// DEFAULT for its type.
        default: bool,
        /// The family, qualified, when its name differs from the class's.
        family: Option<String>,
        /// `OPERATOR ...`, `FUNCTION ...` and `STORAGE ...` items.
        items: Vec<String>,
    },
    /// `CREATE [DEFAULT] CONVERSION name FOR 'from' TO 'to' FROM function`.
    Conversion {
        /// Source encoding.
        from: String,
        /// Destination encoding.
        to: String,
        /// Conversion function, qualified.
        function: String,
        /// DEFAULT.
        default: bool,
    },
    /// A procedural language not created by an extension.
    Language {
        /// TRUSTED.
        trusted: bool,
        /// Call handler, qualified (`None`: an internal language).
        handler: Option<String>,
        /// INLINE handler.
        inline: Option<String>,
        /// VALIDATOR.
        validator: Option<String>,
    },
    /// `CREATE TRANSFORM FOR type LANGUAGE lang (...)`.
    Transform {
        /// The type.
        type_sql: String,
        /// The language.
        language: String,
        /// FROM SQL function, as `f(args)`.
        from_sql: Option<String>,
        /// TO SQL function, as `f(args)`.
        to_sql: Option<String>,
    },
    /// A text search parser: `START = ...`, `GETTOKEN = ...`, ...
    TsParser {
        /// Options.
        options: Vec<String>,
    },
    /// A text search template: `INIT = ...`, `LEXIZE = ...`.
    TsTemplate {
        /// Options.
        options: Vec<String>,
    },
    /// `CREATE FOREIGN DATA WRAPPER`.
    ForeignDataWrapper {
        /// HANDLER function.
        handler: Option<String>,
        /// VALIDATOR function.
        validator: Option<String>,
        /// `OPTIONS (...)` items, quoted (`key 'value'`).
        options: Vec<String>,
    },
    /// `CREATE SERVER`.
    ForeignServer {
        /// The foreign data wrapper.
        wrapper: String,
        /// TYPE.
        server_type: Option<String>,
        /// VERSION.
        version: Option<String>,
        /// `OPTIONS (...)` items.
        options: Vec<String>,
    },
    /// `CREATE USER MAPPING FOR role SERVER server`.
    UserMapping {
        /// The role (`None`: PUBLIC).
        user: Option<String>,
        /// The server.
        server: String,
        /// `OPTIONS (...)` items (a `password` only when asked for).
        options: Vec<String>,
    },
    /// A logical replication subscription, created disconnected and disabled
    /// (`connect = false`), as pg_dump does.
    Subscription {
        /// CONNECTION string.
        conninfo: String,
        /// Publications subscribed to.
        publications: Vec<String>,
        /// `slot_name = ...`, `binary = true`, ... (WITH options).
        options: Vec<String>,
    },
    /// Properties of the database itself: settings, per-role settings (its
    /// comment and ACL are the object's). Applied to the target database.
    Database {
        /// `ALTER DATABASE ... SET` items (`name = value`, value quoted).
        settings: Vec<String>,
        /// `ALTER ROLE r IN DATABASE ... SET`: (role, items).
        role_settings: Vec<(String, Vec<String>)>,
    },
    /// A part of another object created on its own to break a dependency
    /// loop (pg_dump does the same): a CHECK constraint or a column default
    /// calling a function over the table's row type, a domain constraint
    /// calling a function over the domain, a view's query reading a function
    /// that returns the view's row type.
    Separated {
        /// The object it belongs to.
        owner: QName,
        /// What it is.
        part: Part,
    },
    /// Privileges on a built-in object (in `pg_catalog` or
    /// `information_schema`) changed from what initdb gave it
    /// (`pg_init_privs`), as pg_dump dumps them.
    SystemAcl {
        /// `TABLE pg_catalog.pg_authid`, `FUNCTION pg_catalog.f(int4)`, ...
        target: String,
        /// A column of the table.
        column: Option<String>,
        /// Privileges granted since initdb.
        grants: Vec<Grant>,
        /// Privileges initdb gave that were revoked.
        revokes: Vec<Grant>,
    },
    /// A role (cluster-wide), carried with `--roles`: created when the
    /// target lacks it, never altered unless asked (`--roles update`).
    Role {
        /// Its attributes.
        attributes: RoleAttributes,
        /// Its password secret (SCRAM or MD5 hash), only with `--role-passwords`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// `ALTER ROLE ... SET` items (`name = value`, value quoted).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        settings: Vec<String>,
        /// Roles it is a member of.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        member_of: Vec<Membership>,
        /// Why it is carried: `owner`, `grantee`, `policy`, `default privileges`,
        /// `user mapping`, `database settings`, `member` (of a carried role), `all`.
        uses: Vec<String>,
    },
    /// Planner statistics of a loaded relation, applied after its data and
    /// indexes: restored with `pg_restore_relation_stats` /
    /// `pg_restore_attribute_stats` on a PostgreSQL 18+ target (no scan),
    /// else (or when the source had none) an `ANALYZE` of the relation; see
    /// [`crate::Statistics`].
    RelationStats {
        /// The table (or materialized view).
        table: QName,
        /// What the table is.
        of: StatsOf,
        /// The statistics are an expression index's of `table` (same schema).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<String>,
        /// A partitioned table with a foreign table among its partitions: an
        /// `ANALYZE` would sample it through its wrapper, so it is not analyzed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        foreign_partitions: bool,
        /// `server_version_num` of the source the values come from.
        version: i32,
        /// `pg_class.relpages`, `reltuples` (as text), `relallvisible`, and
        /// `relallfrozen` (18+); `None` when the source's were not read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relation_values: Option<(i32, String, i32, Option<i32>)>,
        /// Column statistics (empty: the source had none, or they were not read).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        columns: Vec<ColumnStats>,
    },
    /// `ALTER DEFAULT PRIVILEGES`: applied last so restored objects keep their own ACLs.
    DefaultAcl {
        /// Role whose future objects are affected.
        role: String,
        /// `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES` or `SCHEMAS`.
        objects: String,
        /// Privileges (replacing the built-in default when `schema` is `None`).
        grants: Vec<Grant>,
    },
}

impl Kind {
    /// Human-readable kind name, as `pgferry list` prints it.
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Schema => "SCHEMA",
            Kind::Extension { .. } => "EXTENSION",
            Kind::Collation { .. } => "COLLATION",
            Kind::Enum { .. } => "TYPE (enum)",
            Kind::Domain { .. } => "DOMAIN",
            Kind::Composite { .. } => "TYPE (composite)",
            Kind::Range { .. } => "TYPE (range)",
            Kind::Function {
                procedure: true, ..
            } => "PROCEDURE",
            Kind::Function { .. } => "FUNCTION",
            Kind::Aggregate(_) => "AGGREGATE",
            Kind::Operator { .. } => "OPERATOR",
            Kind::Sequence { .. } => "SEQUENCE",
            Kind::SequenceOwnedBy { .. } => "SEQUENCE OWNED BY",
            Kind::Table(_) => "TABLE",
            Kind::View { .. } => "VIEW",
            Kind::MatView { .. } => "MATERIALIZED VIEW",
            Kind::TsDictionary { .. } => "TEXT SEARCH DICTIONARY",
            Kind::TsConfiguration { .. } => "TEXT SEARCH CONFIGURATION",
            Kind::TableData { .. } => "TABLE DATA",
            Kind::SequenceSet { .. } => "SEQUENCE SET",
            Kind::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            } => "FK CONSTRAINT",
            Kind::Constraint { .. } => "CONSTRAINT",
            Kind::Index { .. } => "INDEX",
            Kind::IndexAttach { .. } => "INDEX ATTACH",
            Kind::Trigger { .. } => "TRIGGER",
            Kind::Rule { .. } => "RULE",
            Kind::TriggerState { .. } => "TRIGGER STATE",
            Kind::RowSecurity { .. } => "ROW SECURITY",
            Kind::Policy { .. } => "POLICY",
            Kind::Statistics { .. } => "STATISTICS",
            Kind::MatViewRefresh { .. } => "MATERIALIZED VIEW DATA",
            Kind::DefaultAcl { .. } => "DEFAULT ACL",
            Kind::RelationStats { .. } => "STATISTICS DATA",
            Kind::Role { .. } => "ROLE",
            Kind::Cast { .. } => "CAST",
            Kind::LargeObjects { .. } => "LARGE OBJECTS",
            Kind::Publication { .. } => "PUBLICATION",
            Kind::EventTrigger { .. } => "EVENT TRIGGER",
            Kind::BaseType { .. } => "TYPE (base)",
            Kind::ShellType => "SHELL TYPE",
            Kind::AccessMethod { .. } => "ACCESS METHOD",
            Kind::OperatorFamily { .. } => "OPERATOR FAMILY",
            Kind::OperatorClass { .. } => "OPERATOR CLASS",
            Kind::Conversion { .. } => "CONVERSION",
            Kind::Language { .. } => "PROCEDURAL LANGUAGE",
            Kind::Transform { .. } => "TRANSFORM",
            Kind::TsParser { .. } => "TEXT SEARCH PARSER",
            Kind::TsTemplate { .. } => "TEXT SEARCH TEMPLATE",
            Kind::ForeignDataWrapper { .. } => "FOREIGN DATA WRAPPER",
            Kind::ForeignServer { .. } => "SERVER",
            Kind::UserMapping { .. } => "USER MAPPING",
            Kind::Subscription { .. } => "SUBSCRIPTION",
            Kind::Database { .. } => "DATABASE PROPERTIES",
            Kind::SystemAcl { .. } => "ACL",
            Kind::Separated {
                part: Part::Check(_),
                ..
            } => "CHECK CONSTRAINT",
            Kind::Separated {
                part: Part::Default { .. },
                ..
            } => "DEFAULT",
            Kind::Separated {
                part: Part::DomainCheck { .. },
                ..
            } => "DOMAIN CONSTRAINT",
            Kind::Separated {
                part: Part::ViewQuery { .. },
                ..
            } => "VIEW QUERY",
        }
    }

    /// An object of the whole database, outside any schema (large objects,
    /// casts, publications, subscriptions, event triggers, languages,
    /// access methods, transforms, foreign data wrappers, servers, user
    /// mappings, the database's own properties, privileges on built-in
    /// objects). Schema patterns do not apply to their names: a restore with
    /// `-n` or `-t` leaves them out, and a sync leaves the target's own alone.
    pub fn database_wide(&self) -> bool {
        matches!(
            self,
            Kind::LargeObjects { .. }
                | Kind::Cast { .. }
                | Kind::Publication { .. }
                | Kind::Subscription { .. }
                | Kind::EventTrigger { .. }
                | Kind::Language { .. }
                | Kind::AccessMethod { .. }
                | Kind::Transform { .. }
                | Kind::ForeignDataWrapper { .. }
                | Kind::ForeignServer { .. }
                | Kind::UserMapping { .. }
                | Kind::Database { .. }
                | Kind::SystemAcl { .. }
        )
    }

    /// Contents rather than definitions: what `--schema-only` leaves out and
    /// `--data-only` keeps (table data, sequence values, large objects,
    /// materialized view contents, planner statistics).
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Kind::TableData { .. }
                | Kind::SequenceSet { .. }
                | Kind::MatViewRefresh { .. }
                | Kind::LargeObjects { .. }
                | Kind::RelationStats { .. }
        )
    }

    /// Section of the dump this kind belongs to.
    pub fn section(&self) -> Section {
        match self {
            Kind::TableData { .. } | Kind::SequenceSet { .. } | Kind::LargeObjects { .. } => {
                Section::Data
            }
            Kind::Constraint { .. }
            | Kind::Index { .. }
            | Kind::IndexAttach { .. }
            | Kind::Trigger { .. }
            | Kind::TriggerState { .. }
            | Kind::Rule { .. }
            | Kind::RowSecurity { .. }
            | Kind::Policy { .. }
            | Kind::Statistics { .. }
            | Kind::MatViewRefresh { .. }
            | Kind::RelationStats { .. }
            | Kind::DefaultAcl { .. }
            | Kind::Publication { .. }
            | Kind::Subscription { .. }
            | Kind::SystemAcl { .. }
            | Kind::EventTrigger { .. } => Section::PostData,
            _ => Section::PreData,
        }
    }

    /// Tie-break priority in the topological sort (lower first).
    pub(crate) fn priority(&self) -> u8 {
        match self {
            Kind::Schema => 1,
            Kind::Extension { .. } => 2,
            Kind::Collation { .. } => 3,
            Kind::Enum { .. } | Kind::Range { .. } | Kind::Composite { .. } => 3,
            Kind::Domain { .. } => 4,
            Kind::Function { .. } => 5,
            Kind::Aggregate(_) => 6,
            Kind::Operator { .. } => 7,
            Kind::TsDictionary { .. } => 8,
            Kind::TsConfiguration { .. } => 9,
            Kind::Sequence { .. } => 10,
            Kind::Table(_) => 11,
            Kind::SequenceOwnedBy { .. } => 12,
            Kind::View { .. } => 13,
            Kind::MatView { .. } => 14,
            Kind::TableData { .. } => 20,
            Kind::SequenceSet { .. } => 21,
            Kind::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            } => 34,
            Kind::Constraint {
                kind: ConstraintKind::Check,
                ..
            } => 33,
            Kind::Constraint { .. } => 30,
            Kind::Index { .. } => 31,
            Kind::IndexAttach { .. } => 32,
            Kind::Trigger { .. } => 35,
            Kind::Rule { .. } => 36,
            Kind::TriggerState { .. } => 35,
            Kind::RowSecurity { .. } => 37,
            Kind::Policy { .. } => 38,
            Kind::Statistics { .. } => 39,
            Kind::MatViewRefresh { .. } => 40,
            Kind::RelationStats { .. } => 45,
            Kind::Role { .. } => 0,
            Kind::DefaultAcl { .. } => 41,
            Kind::Cast { .. } => 8,
            Kind::LargeObjects { .. } => 22,
            Kind::Publication { .. } => 42,
            Kind::EventTrigger { .. } => 44,
            Kind::Subscription { .. } => 43,
            Kind::Language { .. } => 2,
            Kind::AccessMethod { .. } => 2,
            Kind::ForeignDataWrapper { .. } => 2,
            Kind::ForeignServer { .. } => 3,
            Kind::UserMapping { .. } => 4,
            Kind::ShellType => 3,
            Kind::BaseType { .. } => 5,
            Kind::Transform { .. } => 8,
            Kind::Conversion { .. } => 8,
            Kind::OperatorFamily { .. } => 7,
            Kind::OperatorClass { .. } => 7,
            Kind::TsParser { .. } | Kind::TsTemplate { .. } => 8,
            Kind::Database { .. } => 1,
            Kind::SystemAcl { .. } => 41,
            Kind::Separated { .. } => 12,
        }
    }
}

impl Object {
    /// Section of the dump.
    pub fn section(&self) -> Section {
        self.kind.section()
    }

    /// `schema.name` (quoted) or `name`.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(s) => crate::qualified(s, &self.name),
            None => crate::quote_ident(&self.name),
        }
    }

    /// Unquoted display name, e.g. `public.orders`.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The table a table-level object belongs to.
    pub fn table(&self) -> Option<&QName> {
        match &self.kind {
            Kind::TableData { table, .. }
            | Kind::Constraint { table, .. }
            | Kind::Index { table, .. }
            | Kind::Trigger { table, .. }
            | Kind::TriggerState { table, .. }
            | Kind::Rule { table, .. }
            | Kind::RowSecurity { table, .. }
            | Kind::Policy { table, .. }
            | Kind::RelationStats { table, .. } => Some(table),
            // A relation's part split off to break a loop goes with it.
            Kind::Separated {
                owner,
                part: Part::Check(_) | Part::Default { .. } | Part::ViewQuery { .. },
            } => Some(owner),
            _ => None,
        }
    }
}
