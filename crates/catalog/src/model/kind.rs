//! [`Kind`]: what an object is, with its kind-specific definition, and
//! what follows from the kind (label, section, sort priority).
use serde::{Deserialize, Serialize};

use super::{
    AggregateDef, ColumnStats, ConstraintKind, CopyFormat, Grant, LargeObject, Membership, Part,
    QName, RoleAttributes, Section, SequenceOptions, StatsOf, TableDef,
};

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
        /// Load the rows through this table instead (`--load-via-partition-root`:
        /// the root of the partition tree), so each row finds its partition on
        /// the target.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        load_via: Option<QName>,
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
