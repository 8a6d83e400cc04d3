//! The command line's clap definitions: the global flags, one `*Args`
//! struct per subcommand, the value enums, and the small conversions that
//! turn filter and role flags into the engine's option values.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pgferry_engine::{Filters, Omit, RoleSelection, Section, Statistics};

/// `pgferry --help`'s closing table: pg_dump and pg_restore habits in pgferry
/// (the README lists every option).
const PG_DUMP_FLAGS: &str = "\
From pg_dump / pg_restore (every option: README, \"pg_dump and pg_restore flags\"):
  pg_dump DB > app.sql             pgferry dump -d DB -o app.sql   (or -F p -o -)
  pg_dump -Fc -f app.dump DB       pgferry dump -d DB -o app.pgf   (pgferry's archive, -F c)
  pg_dump -h H -p P -U U -d DB     the same -h -p -U -d, or --source CONN
  -a -s --section -n -N -t -T      same names (dump and restore)
  --exclude-table-data -x -O       same names (-O is the default)
  --no-comments --no-publications  same names
  --no-subscriptions --filter      same names
  --inserts --column-inserts       same names (plain format)
  --rows-per-insert --on-conflict-do-nothing   same names (plain format)
  -c --if-exists -C                same names (plain format; restore --clean)
  -Z zstd:N | -Z N                 zstd only (--compress-level N)
  -j N                             parallel dump into any output
  --snapshot --serializable-deferrable   same names
  pg_restore -d DB app.dump        pgferry restore -d DB app.pgf   (one transaction, like -1)
  pg_restore -l / -L list          pgferry list app.pgf / restore -L list
  pg_restore -f out.sql            pgferry restore -f out.sql app.pgf
  pg_restore -j N                  restore -j N (not atomic, as pg_restore)";

#[derive(Debug, Parser)]
#[command(name = "pgferry", version, about = "Native PostgreSQL dump / restore / sync", long_about = None,
          after_long_help = PG_DUMP_FLAGS)]
pub(crate) struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub(crate) log_format: LogFormat,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Dump a database into an archive file (or stdout with `-o -`).
    Dump(DumpArgs),
    /// Restore an archive into a database, in one transaction.
    Restore(RestoreArgs),
    /// Print an archive's table of contents (verifies it first).
    List(ListArgs),
    /// Print the DDL script a restore of the archive would run.
    Ddl(DdlArgs),
    /// Make the target an exact copy of the source's schemas, in one transaction.
    Sync(SyncArgs),
    /// Compare source and target: schema drift, row counts or checksums (exit 3 when different).
    Verify(VerifyArgs),
    /// Show recent syncs recorded on the target (pgferry.sync_history).
    Status(StatusArgs),
}

/// `--statistics`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StatisticsArg {
    /// The source's statistics where the target can take them (PostgreSQL 18+), else ANALYZE.
    Auto,
    /// The source's statistics (needs a PostgreSQL 18 target); relations the source never analyzed are analyzed.
    Copy,
    /// ANALYZE every loaded table.
    Analyze,
    /// No statistics (autovacuum catches up later).
    None,
}

impl StatisticsArg {
    pub(crate) fn mode(self) -> Statistics {
        match self {
            StatisticsArg::Auto => Statistics::Auto,
            StatisticsArg::Copy => Statistics::Copy,
            StatisticsArg::Analyze => Statistics::Analyze,
            StatisticsArg::None => Statistics::None,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum VerifyArg {
    None,
    Counts,
    Checksums,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Source connection string (or `[source]` in the config file).
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    pub(crate) source: Option<String>,
    /// Target connection string (or `[target]` in the config file).
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    pub(crate) target: Option<String>,
    /// pgferry.toml with both sides and the sync options.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Check after commit [default: counts].
    #[arg(long, value_enum)]
    pub(crate) verify: Option<VerifyArg>,
    /// Run unattended, every DURATION (e.g. 20m), until SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION")]
    pub(crate) every: Option<String>,
    /// Replace every synced object and copy every table [default: incremental: keep what is
    /// identical, apply differing rows, rebuild only what changed definition].
    #[arg(long)]
    pub(crate) full: bool,
    /// Never terminate other sessions: wait for their locks (up to --lock-timeout) [default:
    /// incremental syncs terminate only sessions that still block past --lock-timeout, --full
    /// terminates every session first].
    #[arg(long)]
    pub(crate) no_terminate: bool,
    /// Lock wait on either side (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) lock_timeout: Option<String>,
    /// Also write an archive of what was synced.
    #[arg(long, value_name = "FILE")]
    pub(crate) keep_archive: Option<PathBuf>,
    /// Restore the source's object owners.
    #[arg(long)]
    pub(crate) keep_owners: bool,
    /// Allow a target server older than the source.
    #[arg(long)]
    pub(crate) allow_downgrade: bool,
    /// Deadline of one sync (e.g. 1h): past it the sync is rolled back, recorded as failed and, with
    /// --every, retried with back-off [default: with --every, 4 x the last good cycle (at least 10m),
    /// or 1h before one succeeded; none otherwise].
    #[arg(long, value_name = "DURATION")]
    pub(crate) cycle_timeout: Option<String>,
    /// Planner statistics of the synced tables, in the sync's transaction [default: auto].
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) statistics: Option<StatisticsArg>,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Source connection string.
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    pub(crate) source: String,
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    pub(crate) target: String,
    /// Compare row contents (order-independent hash), not only counts.
    #[arg(long)]
    pub(crate) checksums: bool,
    /// Also count objects in schemas only the target has (which sync leaves alone) as differences.
    #[arg(long)]
    pub(crate) strict: bool,
    /// JSON output.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    pub(crate) target: String,
    /// How many syncs to show.
    #[arg(long, default_value_t = 10)]
    pub(crate) limit: i64,
    /// JSON output (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
    /// Output: text, json, or prometheus (metrics for node_exporter's textfile collector).
    #[arg(long, value_enum)]
    pub(crate) format: Option<StatusFormat>,
    /// Exit 4 unless the last successful sync's source snapshot is younger than DURATION (e.g. 30m);
    /// with text output, prints one line saying how old the data is and why.
    #[arg(long, value_name = "DURATION")]
    pub(crate) max_age: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    Text,
    Json,
    Prometheus,
}

#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only schemas matching PATTERN (repeatable).
    #[arg(short = 'n', long = "schema", value_name = "PATTERN")]
    pub(crate) schema: Vec<String>,
    /// Skip schemas matching PATTERN.
    #[arg(short = 'N', long = "exclude-schema", value_name = "PATTERN")]
    pub(crate) exclude_schema: Vec<String>,
    /// Only tables matching PATTERN.
    #[arg(short = 't', long = "table", value_name = "PATTERN")]
    pub(crate) table: Vec<String>,
    /// Skip tables matching PATTERN.
    #[arg(short = 'T', long = "exclude-table", value_name = "PATTERN")]
    pub(crate) exclude_table: Vec<String>,
    /// Keep the definition but skip the data of tables matching PATTERN.
    #[arg(long = "exclude-table-data", value_name = "PATTERN")]
    pub(crate) exclude_table_data: Vec<String>,
    /// Like -t, and every inheritance child and partition (recursively) of the matched tables.
    #[arg(long = "table-and-children", value_name = "PATTERN")]
    pub(crate) table_and_children: Vec<String>,
    /// Like -T, and every inheritance child and partition of the matched tables.
    #[arg(long = "exclude-table-and-children", value_name = "PATTERN")]
    pub(crate) exclude_table_and_children: Vec<String>,
    /// Like --exclude-table-data, and every inheritance child and partition of the matched tables.
    #[arg(long = "exclude-table-data-and-children", value_name = "PATTERN")]
    pub(crate) exclude_table_data_and_children: Vec<String>,
    /// Only extensions matching PATTERN (repeatable; whatever -n/-N/-t select, as pg_dump); large
    /// objects and other database-wide objects are then left out.
    #[arg(short = 'e', long = "extension", value_name = "PATTERN")]
    pub(crate) extension: Vec<String>,
    /// Skip extensions matching PATTERN.
    #[arg(long = "exclude-extension", value_name = "PATTERN")]
    pub(crate) exclude_extension: Vec<String>,
    /// Read more patterns from FILE (pg_dump 17's format, `-` for stdin): one `include|exclude TYPE
    /// PATTERN` a line, TYPE one of table, table_and_children, table_data (exclude only),
    /// table_data_and_children (exclude only), schema, extension; `#` starts a comment.
    #[arg(long = "filter", value_name = "FILE")]
    pub(crate) filter: Vec<PathBuf>,
    /// Accepted for pg_dump's sake: pgferry always refuses an include pattern (-n, -t,
    /// --table-and-children, -e) that matches nothing.
    #[arg(long)]
    pub(crate) strict_names: bool,
    /// Accepted for pg_dump's sake: pgferry never carries tablespaces (tables and indexes land in
    /// the target's default tablespace).
    #[arg(long)]
    pub(crate) no_tablespaces: bool,
    /// Leave the database's subscriptions out (they are otherwise created
    /// disconnected and disabled, as pg_dump does).
    #[arg(long)]
    pub(crate) no_subscriptions: bool,
    /// Leave the database's publications out (with the tables and schemas they publish).
    #[arg(long)]
    pub(crate) no_publications: bool,
    /// Keep user mappings' password option (left out by default).
    #[arg(long)]
    pub(crate) user_mapping_passwords: bool,
}

/// What pg_dump's switches leave out of a dump or restore: statements
/// (`-x`, `--no-comments`) and whole sections (`--section`).
#[derive(Debug, Args)]
pub(crate) struct OmitArgs {
    /// Leave out privileges: GRANT, REVOKE, ALTER DEFAULT PRIVILEGES (a dump records it in the
    /// archive, so its restores leave them out too).
    #[arg(short = 'x', long = "no-privileges", alias = "no-acl")]
    pub(crate) no_privileges: bool,
    /// Leave out comments (COMMENT ON); a dump records it in the archive.
    #[arg(long)]
    pub(crate) no_comments: bool,
    /// Carry objects that have security labels, without the labels (pgferry never writes labels;
    /// without this switch such an object is refused, naming it).
    #[arg(long)]
    pub(crate) no_security_labels: bool,
    /// Leave out tables' and materialized views' USING access_method: they get the target's
    /// default (a dump records it in the archive).
    #[arg(long)]
    pub(crate) no_table_access_method: bool,
    /// Only this section (repeatable): pre-data (definitions), data (rows, sequence values, large
    /// objects), post-data (indexes, constraints, triggers, matview contents, ...).
    #[arg(long, value_enum, value_name = "SECTION")]
    pub(crate) section: Vec<SectionArg>,
}

/// `--section`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SectionArg {
    PreData,
    Data,
    PostData,
}

impl OmitArgs {
    pub(crate) fn omit(&self) -> Omit {
        Omit {
            privileges: self.no_privileges,
            comments: self.no_comments,
            security_labels: self.no_security_labels,
            table_access_method: self.no_table_access_method,
        }
    }

    pub(crate) fn sections(&self) -> Vec<Section> {
        self.section
            .iter()
            .map(|s| match s {
                SectionArg::PreData => Section::PreData,
                SectionArg::Data => Section::Data,
                SectionArg::PostData => Section::PostData,
            })
            .collect()
    }
}

/// `--roles`, `--role-passwords`.
#[derive(Debug, Args)]
pub(crate) struct RoleArgs {
    /// Carry roles (created on the target when missing, in the same transaction): `referenced` (the
    /// default: owners with --keep-owners, grantees, policy and default-privilege roles, and their
    /// members), `all` (every non-system role); add `update` to also change existing roles.
    #[arg(long, value_name = "WHICH", num_args = 0..=1, default_missing_value = "referenced",
          value_delimiter = ',', value_parser = ["referenced", "all", "update"])]
    pub(crate) roles: Vec<String>,
    /// Carry the roles' password secrets (needs read access to pg_authid on the source: a superuser).
    #[arg(long, requires = "roles")]
    pub(crate) role_passwords: bool,
}

impl RoleArgs {
    /// Sets the role fields of `f`.
    pub(crate) fn apply(&self, f: Filters) -> Filters {
        let has = |w: &str| self.roles.iter().any(|r| r == w);
        Filters {
            roles: if has("all") {
                RoleSelection::All
            } else if self.roles.is_empty() {
                RoleSelection::None
            } else {
                RoleSelection::Referenced
            },
            roles_update: has("update"),
            role_passwords: self.role_passwords,
            ..f
        }
    }
}

impl FilterArgs {
    /// The flags' patterns and switches, with every `--filter` file's
    /// patterns added (a file that cannot be read or parsed is an error
    /// naming its line).
    pub(crate) fn filters(&self) -> Result<Filters, pgferry_engine::Error> {
        let mut f = Filters {
            include_schemas: self.schema.clone(),
            exclude_schemas: self.exclude_schema.clone(),
            include_tables: self.table.clone(),
            exclude_tables: self.exclude_table.clone(),
            exclude_table_data: self.exclude_table_data.clone(),
            include_tables_and_children: self.table_and_children.clone(),
            exclude_tables_and_children: self.exclude_table_and_children.clone(),
            exclude_table_data_and_children: self.exclude_table_data_and_children.clone(),
            include_extensions: self.extension.clone(),
            exclude_extensions: self.exclude_extension.clone(),
            no_subscriptions: self.no_subscriptions,
            no_publications: self.no_publications,
            user_mapping_passwords: self.user_mapping_passwords,
            ..Filters::default()
        };
        for file in &self.filter {
            f.add_patterns(Filters::read_filter_file(file)?);
        }
        Ok(f)
    }
}

/// `dump --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatArg {
    /// pgferry's archive.
    Archive,
    /// A SQL script for psql.
    Plain,
}

/// pg_dump's format letters and names; directory and tar are refused by name.
fn parse_format(s: &str) -> Result<FormatArg, String> {
    match s {
        "p" | "plain" => Ok(FormatArg::Plain),
        "c" | "custom" | "a" | "archive" => Ok(FormatArg::Archive),
        "d" | "directory" | "t" | "tar" => {
            Err(format!(
            "pgferry writes no {} format: use `plain` (a SQL script) or `archive` (pgferry's own, \
             one file, parallel dump and restore with -j)",
            if s.starts_with('d') { "directory" } else { "tar" }
        ))
        }
        _ => Err("expected plain (p) or archive (c, custom)".into()),
    }
}

/// libpq-style connection switches (`-h -p -U -d`), pg_dump's and
/// pg_restore's alternative to a connection string. (`--help` has no `-h`
/// on these commands: `-h` is the host, as in pg_dump.)
#[derive(Debug, Args)]
pub(crate) struct ConnArgs {
    /// Server host or socket directory (instead of host= in the connection string).
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    pub(crate) host: Option<String>,
    /// Server port.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub(crate) port: Option<u16>,
    /// User name.
    #[arg(short = 'U', long = "username", value_name = "NAME")]
    pub(crate) username: Option<String>,
    /// Database name, or a whole connection string (as pg_dump's -d takes).
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub(crate) dbname: Option<String>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct DumpArgs {
    /// Source connection string (key=value or URI); PG* variables fill the rest [or -h -p -U -d].
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    pub(crate) source: Option<String>,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Read in this exported snapshot (pg_export_snapshot() of a session that stays open).
    #[arg(long, value_name = "NAME")]
    pub(crate) snapshot: Option<String>,
    /// Wait for a snapshot no serializable transaction can contradict (SERIALIZABLE READ ONLY DEFERRABLE).
    #[arg(long)]
    pub(crate) serializable_deferrable: bool,
    /// Load each partition's rows through the root of its partition tree, so every row finds its
    /// partition on the target (whose bounds or hashes may differ).
    #[arg(long)]
    pub(crate) load_via_partition_root: bool,
    /// pg_dump's -Z: zstd[:LEVEL], zstd:level=LEVEL or a bare LEVEL (an archive's zstd level);
    /// with --format plain the script itself is zstd-compressed (none: plain text, the default).
    #[arg(
        short = 'Z',
        long = "compress",
        value_name = "METHOD[:DETAIL]",
        conflicts_with = "compress_level"
    )]
    pub(crate) compress: Option<String>,
    /// Archive or script path, or `-` for stdout.
    #[arg(short = 'o', long = "output", short_alias = 'f', alias = "file")]
    pub(crate) output: PathBuf,
    /// `archive` (c, custom: pgferry's own format, not pg_restore's) or `plain` (p: a SQL script
    /// psql replays) [default: plain for an output name ending in .sql, else archive].
    #[arg(short = 'F', long, value_parser = parse_format, value_name = "FORMAT")]
    pub(crate) format: Option<FormatArg>,
    /// Plain format: rows as INSERT statements instead of COPY (slower to replay; any SQL client loads them).
    #[arg(long)]
    pub(crate) inserts: bool,
    /// Plain format: INSERT statements naming their columns (implies --inserts).
    #[arg(long)]
    pub(crate) column_inserts: bool,
    /// Plain format: rows per INSERT statement (implies --inserts).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) rows_per_insert: Option<u32>,
    /// Plain format: add ON CONFLICT DO NOTHING to each INSERT (needs --inserts, --column-inserts
    /// or --rows-per-insert).
    #[arg(long)]
    pub(crate) on_conflict_do_nothing: bool,
    /// Plain format: set the source's owners (ALTER ... OWNER TO) [default: leave objects to the
    /// user who replays the script, like pg_dump -O].
    #[arg(long, conflicts_with = "no_owner")]
    pub(crate) keep_owners: bool,
    /// Objects belong to whoever restores them (accepted for pg_dump scripts: pgferry's default).
    #[arg(short = 'O', long)]
    pub(crate) no_owner: bool,
    /// Plain format: drop what the script creates first (its schemas, DROP ... IF EXISTS ... CASCADE,
    /// as restore --clean does).
    #[arg(short = 'c', long)]
    pub(crate) clean: bool,
    /// With --clean: accepted (pgferry's drops always say IF EXISTS).
    #[arg(long, requires = "clean")]
    pub(crate) if_exists: bool,
    /// Plain format: create the database and connect to it first (with --clean, drop it first);
    /// replay such a script without --single-transaction.
    #[arg(short = 'C', long)]
    pub(crate) create: bool,
    /// zstd compression level (1-22).
    #[arg(long, default_value_t = pgferry_engine::DEFAULT_LEVEL, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub(crate) compress_level: i32,
    /// Parallel source connections sharing one snapshot [default: number of CPUs].
    #[arg(short = 'j', long)]
    pub(crate) jobs: Option<usize>,
    /// With several jobs, split a table of at least this many 8 kB pages into block ranges when, kept whole, it would leave the other jobs idle (the schedule would end over 25% past a perfect balance).
    #[arg(long, default_value_t = pgferry_engine::DEFAULT_SPLIT_PAGES)]
    pub(crate) split_pages: i64,
    /// Only definitions.
    #[arg(long, conflicts_with = "data_only")]
    pub(crate) schema_only: bool,
    /// Only data.
    #[arg(long)]
    pub(crate) data_only: bool,
    /// Lock wait per table, in seconds.
    #[arg(long, default_value_t = pgferry_engine::DEFAULT_LOCK_TIMEOUT.as_secs())]
    pub(crate) lock_timeout: u64,
    /// Leave the source's planner statistics out of the archive (a restore then analyzes what it loads).
    #[arg(long)]
    pub(crate) no_statistics: bool,
    #[command(flatten)]
    pub(crate) omit: OmitArgs,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct RestoreArgs {
    /// Target connection string [or -h -p -U -d].
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    pub(crate) target: Option<String>,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Archive path, or `-` for stdin (spooled to a temporary file and verified first).
    pub(crate) file: PathBuf,
    /// Write the plain SQL script a restore would run (definitions and rows, as dump --format plain
    /// writes it) to SCRIPT (`-`: stdout) instead of restoring into a database, like pg_restore -f.
    #[arg(short = 'f', long = "file", value_name = "SCRIPT")]
    pub(crate) script: Option<PathBuf>,
    /// Drop the archive's schemas first (same transaction).
    #[arg(long)]
    pub(crate) clean: bool,
    /// Only definitions.
    #[arg(long, conflicts_with = "data_only")]
    pub(crate) schema_only: bool,
    /// Only data.
    #[arg(long)]
    pub(crate) data_only: bool,
    /// Restore the source's object owners (default: the connecting user owns everything).
    #[arg(long)]
    pub(crate) keep_owners: bool,
    /// Allow a target server older than the archive's source.
    #[arg(long)]
    pub(crate) allow_downgrade: bool,
    /// Parallel connections; above 1 the restore is NOT one transaction (like pg_restore -j), for fresh databases.
    #[arg(short = 'j', long, default_value_t = 1)]
    pub(crate) jobs: usize,
    /// Restore only the objects FILE lists, in its order (pg_restore -L; `pgferry list` prints one).
    #[arg(short = 'L', long, value_name = "FILE")]
    pub(crate) use_list: Option<PathBuf>,
    /// Planner statistics of the loaded tables: the archive's (auto, copy) or ANALYZE.
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    pub(crate) statistics: StatisticsArg,
    #[command(flatten)]
    pub(crate) omit: OmitArgs,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Archive path.
    pub(crate) file: PathBuf,
    /// JSON output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DdlArgs {
    /// Archive path.
    pub(crate) file: PathBuf,
    /// Include `ALTER ... OWNER TO`.
    #[arg(long)]
    pub(crate) keep_owners: bool,
}
