//! Include/exclude globs (`--include`, `--exclude`) over keys relative to the account prefix.

use globset::{Candidate, Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use thiserror::Error;

/// A reminder of the glob syntax, appended to errors so the fix is at hand.
const SYNTAX: &str = "globs use * within one path segment, ** across segments, ? for one \
                      character, [abc] for a class, {a,b} for alternatives";

/// Why the globs given on the command line were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// One glob does not parse; names the option, the glob and the problem.
    #[error("invalid {option} glob {glob:?}: {reason}; {SYNTAX}")]
    InvalidGlob {
        /// The option the glob came from: `--include` or `--exclude`.
        option: &'static str,
        /// The glob as given.
        glob: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The globs parse one by one but cannot be combined (for instance, too large together).
    #[error("cannot combine the {option} globs: {reason}; use fewer or simpler globs")]
    Combine {
        /// The option the globs came from: `--include` or `--exclude`.
        option: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// Decides which keys `ls` and `restore` consider, so users can narrow them to part of an account.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Whether any include glob was given; with none, every key is included.
    has_include: bool,
    include: GlobSet,
    exclude: GlobSet,
    /// The include globs whose `*` could be meant to cross `/` (see [`StarHint`]).
    star: Option<StarHint>,
    /// The first key [`KeyFilter::matches_noting`] left out that a `**/` glob would take, shared
    /// by every clone: (relative key, suggested glob).
    first_hint: std::sync::Arc<std::sync::OnceLock<(String, String)>>,
}

impl KeyFilter {
    /// Compiles include and exclude globs; `*` stays within a path segment and `**` crosses them.
    pub fn new(include: &[String], exclude: &[String]) -> Result<KeyFilter, FilterError> {
        Ok(KeyFilter {
            has_include: !include.is_empty(),
            include: build_set("--include", include)?,
            exclude: build_set("--exclude", exclude)?,
            star: StarHint::new(include),
            first_hint: Default::default(),
        })
    }

    /// [`KeyFilter::matches`], noting the first key left out that a `**/` form of an include
    /// glob would take, so an empty result can say which glob was meant ([`KeyFilter::hint`]).
    pub fn matches_noting(&self, relative_key: &str) -> bool {
        let kept = self.matches(relative_key);
        if let (false, Some(star), None) = (kept, &self.star, self.first_hint.get()) {
            if let Some(glob) = star.hint(relative_key) {
                let _ = self.first_hint.set((relative_key.to_owned(), glob));
            }
        }
        kept
    }

    /// The first (relative key, suggested glob) [`KeyFilter::matches_noting`] noted, if any.
    pub fn hint(&self) -> Option<(String, String)> {
        self.first_hint.get().cloned()
    }

    /// Tells whether a key (relative to the account prefix) is included and not excluded.
    pub fn matches(&self, relative_key: &str) -> bool {
        let candidate = Candidate::new(relative_key);
        (!self.has_include || self.include.is_match_candidate(&candidate))
            && !self.exclude.is_match_candidate(&candidate)
    }
}

/// Include globs with a `*` that cannot cross a `/`, compiled as if it could: finds, among the
/// keys they left out, one that a `**/` form of the glob would take (the hint of an empty `ls`).
#[derive(Debug, Clone)]
pub struct StarHint {
    /// (the glob as given, its matcher with `*` crossing `/`).
    loose: Vec<(String, globset::GlobMatcher)>,
}

impl StarHint {
    /// The include globs that have a `*` and no `**` (None when there are none).
    pub fn new(include: &[String]) -> Option<StarHint> {
        let loose: Vec<(String, globset::GlobMatcher)> = include
            .iter()
            .filter(|g| g.contains('*') && !g.contains("**"))
            .filter_map(|g| {
                GlobBuilder::new(g)
                    .literal_separator(false)
                    .backslash_escape(true)
                    .build()
                    .ok()
                    .map(|m| (g.clone(), m.compile_matcher()))
            })
            .collect();
        (!loose.is_empty()).then_some(StarHint { loose })
    }

    /// For a key the include globs left out, the `**/` form of the first glob that would take
    /// it (`*.json` -> `**/*.json`, `logs/*.json` -> `logs/**/*.json`), checked to match it.
    pub fn hint(&self, relative_key: &str) -> Option<String> {
        for (glob, loose) in &self.loose {
            if !relative_key.contains('/') || !loose.is_match(relative_key) {
                continue;
            }
            let suggestion = match glob.rfind('/') {
                Some(i) => format!("{}/**/{}", &glob[..i], &glob[i + 1..]),
                None => format!("**/{glob}"),
            };
            let Ok(compiled) = compile("--include", &suggestion) else {
                continue;
            };
            if compiled.compile_matcher().is_match(relative_key) {
                return Some(suggestion);
            }
        }
        None
    }
}

/// [`StarHint::hint`] for one key, compiling the globs on the spot.
pub fn cross_segment_hint(include: &[String], relative_key: &str) -> Option<String> {
    StarHint::new(include)?.hint(relative_key)
}

/// Compiles the globs of one option into a set.
fn build_set(option: &'static str, globs: &[String]) -> Result<GlobSet, FilterError> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        set.add(compile(option, glob)?);
    }
    set.build().map_err(|e| FilterError::Combine {
        option,
        reason: one_line(&e.kind().to_string()),
    })
}

/// Compiles one glob with the matching rules of this tool.
fn compile(option: &'static str, glob: &str) -> Result<Glob, FilterError> {
    let invalid = |reason: String| FilterError::InvalidGlob {
        option,
        glob: glob.to_string(),
        reason,
    };
    if glob.is_empty() {
        return Err(invalid("it is empty".to_string()));
    }
    GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| invalid(one_line(&e.kind().to_string())))
}

/// Joins a possibly multi-line message into one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> KeyFilter {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        KeyFilter::new(&own(include), &own(exclude)).unwrap()
    }

    fn error(include: &[&str], exclude: &[&str]) -> FilterError {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        KeyFilter::new(&own(include), &own(exclude)).unwrap_err()
    }

    #[test]
    fn no_globs_match_everything() {
        let f = filter(&[], &[]);
        for key in ["", "a", "a/b/c.json", "logs/x y.txt"] {
            assert!(f.matches(key), "{key:?}");
        }
        assert!(KeyFilter::default().matches("anything/at/all"));
    }

    #[test]
    fn double_star_crosses_segments() {
        let f = filter(&["**/*.json"], &[]);
        assert!(f.matches("a.json"));
        assert!(f.matches("data/a.json"));
        assert!(f.matches("data/2026/11/a.json"));
        assert!(!f.matches("data/a.json.gz"));
        assert!(!f.matches("data/a.txt"));
    }

    #[test]
    fn single_star_stays_in_segment() {
        let f = filter(&["logs/*"], &[]);
        assert!(f.matches("logs/app.log"));
        assert!(!f.matches("logs/2026/app.log"));
        assert!(!f.matches("other/logs/app.log"));
        assert!(!f.matches("logs"));
        let f = filter(&["*.json"], &[]);
        assert!(f.matches("a.json"));
        assert!(!f.matches("dir/a.json"));
    }

    #[test]
    fn double_star_suffix_takes_a_whole_subtree() {
        let f = filter(&["logs/**"], &[]);
        assert!(f.matches("logs/app.log"));
        assert!(f.matches("logs/2026/11/app.log"));
        assert!(!f.matches("logsx/app.log"));
    }

    #[test]
    fn any_include_suffices() {
        let f = filter(&["logs/*", "**/*.json"], &[]);
        assert!(f.matches("logs/a.txt"));
        assert!(f.matches("x/y/z.json"));
        assert!(!f.matches("x/y/z.txt"));
    }

    #[test]
    fn exclude_wins_over_include() {
        let f = filter(&["**/*.json"], &["tmp/**"]);
        assert!(f.matches("data/a.json"));
        assert!(!f.matches("tmp/a.json"));
        assert!(!f.matches("tmp/deep/a.json"));
    }

    #[test]
    fn exclude_alone_keeps_the_rest() {
        let f = filter(&[], &["**/*.tmp", "cache/**"]);
        assert!(f.matches("data/a.json"));
        assert!(!f.matches("a.tmp"));
        assert!(!f.matches("x/a.tmp"));
        assert!(!f.matches("cache/a.json"));
    }

    #[test]
    fn spaces_and_unicode_in_keys() {
        let f = filter(&["reports/*/*.csv"], &[]);
        assert!(f.matches("reports/año 2026/ünïcödé file.csv"));
        assert!(!f.matches("reports/año 2026/sub dir/file.csv"));
        let f = filter(&["fotos/día ?.jpg"], &[]);
        assert!(f.matches("fotos/día 1.jpg"));
        // globset matches bytes: `?` is one byte, so a two-byte character needs `*` or `??`.
        assert!(!f.matches("fotos/día é.jpg"));
        assert!(filter(&["fotos/día *.jpg"], &[]).matches("fotos/día é.jpg"));
        assert!(!f.matches("fotos/día 10.jpg"));
    }

    #[test]
    fn classes_and_alternatives() {
        let f = filter(&["{logs,audit}/[0-9]*.gz"], &[]);
        assert!(f.matches("logs/2026.gz"));
        assert!(f.matches("audit/1.gz"));
        assert!(!f.matches("logs/x.gz"));
        assert!(!f.matches("other/1.gz"));
    }

    #[test]
    fn matching_is_case_sensitive() {
        let f = filter(&["Logs/*"], &[]);
        assert!(f.matches("Logs/a"));
        assert!(!f.matches("logs/a"));
    }

    #[test]
    fn backslash_escapes_a_metacharacter() {
        let f = filter(&[r"a\*b"], &[]);
        assert!(f.matches("a*b"));
        assert!(!f.matches("axb"));
    }

    #[test]
    fn invalid_glob_names_option_glob_and_problem() {
        let e = error(&["ok/*", "a["], &[]);
        assert_eq!(
            e,
            FilterError::InvalidGlob {
                option: "--include",
                glob: "a[".into(),
                reason: "unclosed character class; missing ']'".into(),
            }
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid --include glob \"a[\": unclosed character class"),
            "{msg}"
        );
        assert!(msg.contains("** across segments"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn invalid_exclude_glob_names_exclude() {
        let e = error(&[], &["{a,b"]);
        assert!(matches!(
            &e,
            FilterError::InvalidGlob { option: "--exclude", glob, .. } if glob == "{a,b"
        ));
        assert!(e
            .to_string()
            .starts_with("invalid --exclude glob \"{a,b\": unclosed"));
    }

    #[test]
    fn the_first_key_left_out_that_a_double_star_takes_is_noted_for_every_clone() {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let filter = KeyFilter::new(&own(&["*.json"]), &[]).unwrap();
        let clone = filter.clone();
        assert!(!clone.matches_noting("a.txt"));
        assert_eq!(filter.hint(), None);
        assert!(!clone.matches_noting("db/x.json"));
        assert!(!clone.matches_noting("db/y.json"));
        assert!(clone.matches_noting("top.json"));
        assert_eq!(
            filter.hint(),
            Some(("db/x.json".into(), "**/*.json".into()))
        );
        let plain = KeyFilter::new(&[], &own(&["*.tmp"])).unwrap();
        assert!(!plain.matches_noting("a.tmp"));
        assert_eq!(plain.hint(), None);
    }

    #[test]
    fn hint_suggests_double_star_where_a_star_stopped_at_a_slash() {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cross_segment_hint(&own(&["*.json"]), "a/b.json").as_deref(),
            Some("**/*.json")
        );
        assert_eq!(
            cross_segment_hint(&own(&["*.txt", "logs/*.log"]), "logs/2026/x.log").as_deref(),
            Some("logs/**/*.log")
        );
        // No hint when crossing would not help, or when the glob already crosses.
        assert_eq!(cross_segment_hint(&own(&["*.json"]), "a/b.txt"), None);
        assert_eq!(cross_segment_hint(&own(&["**/*.json"]), "a/b.json"), None);
        assert_eq!(cross_segment_hint(&own(&["exact"]), "a/exact"), None);
        // The suggestion is checked: `a*b` would need more than a `**/`.
        assert_eq!(cross_segment_hint(&own(&["a*b"]), "ax/yb"), None);
    }

    #[test]
    fn empty_glob_is_refused() {
        let e = error(&[""], &[]);
        assert!(e
            .to_string()
            .starts_with("invalid --include glob \"\": it is empty;"));
    }
}
