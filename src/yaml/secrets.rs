//! `!secret name`: a value from `secrets.yaml` next to the file that holds the tag, or else
//! (for an included file) next to the main configuration. Each `secrets.yaml` is read once.

use super::compose::{or_empty_map, Loader};
use crate::source::normalize;
use super::node::{Node, Value};
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const SECRETS_FILE: &str = "secrets.yaml";

/// The `secrets.yaml` files a `!secret` in `file` reads, in order: the one next to it, then
/// (ESPHome's fallback, for an included file elsewhere) the one next to the main config `main`.
pub fn secrets_files(file: &Path, main: &Path) -> Vec<PathBuf> {
    let next_to = |p: &Path| normalize(&p.parent().unwrap_or(Path::new("")).join(SECRETS_FILE));
    let (here, main) = (next_to(file), next_to(main));
    if here == main { vec![here] } else { vec![here, main] }
}

impl Loader<'_> {
    /// The secret's value, with the span of the tag (where it is used) and `secret` set.
    pub fn secret(&mut self, at: Span, name: &str) -> Node {
        let places = secrets_files(&self.sources.get(at.file).path, &self.sources.get(self.main_file).path);
        let here = places[0].clone();
        let mut errors = Vec::new();
        for path in places {
            match self.secrets_file(&path) {
                Ok(secrets) => return self.lookup_secret(at, name, &path, &secrets),
                Err(e) => errors.push(e),
            }
        }
        self.error(
            Diagnostic::error("yaml::secret", at, format!("Secret '{name}' not defined: {}", errors.join("; ")))
                .with_label("no secrets file")
                .with_help(format!("create {} with a line `{name}: <value>`", here.display())),
        );
        Node::new(at, Value::Null)
    }

    fn lookup_secret(&mut self, at: Span, name: &str, path: &Path, secrets: &Node) -> Node {
        match secrets.get(name) {
            Some(value) => Node { span: at, value: value.value.clone(), secret: Some(name.to_string()) },
            None => {
                self.error(
                    Diagnostic::error("yaml::secret", at, format!("Secret '{name}' not defined"))
                        .with_label(format!("not in {}", path.display()))
                        .with_help(format!("add a line `{name}: <value>` to {}", path.display())),
                );
                Node::new(at, Value::Null)
            }
        }
    }

    /// One `secrets.yaml` as a mapping, converted once (without substitutions: ESPHome loads
    /// secrets before substituting, and a warning would print the secret).
    fn secrets_file(&mut self, path: &PathBuf) -> Result<Rc<Node>, String> {
        if let Some(cached) = self.secrets.get(path) {
            return cached.clone();
        }
        let (_, raw) = self.read_file(path).inspect_err(|e| {
            self.secrets.insert(path.clone(), Err(e.clone()));
        })?;
        // A secrets file that uses `!secret` itself must not recurse forever.
        self.secrets.insert(path.clone(), Err(format!("{} refers to its own secrets", path.display())));
        let scopes = self.subst.suspend();
        self.active.push(path.clone());
        self.literal += 1;
        let node = or_empty_map(self.node(&raw));
        self.literal -= 1;
        self.active.pop();
        self.subst.restore(scopes);
        let result = if node.as_map().is_some() {
            Ok(Rc::new(node))
        } else {
            Err(format!("{} is not a mapping of names to values", path.display()))
        };
        self.secrets.insert(path.clone(), result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::LoadOptions;
    use super::*;

    #[test]
    fn secret_from_next_to_the_config() {
        let (s, l) = load_files(
            &[("conf/device.yaml", "wifi:\n  password: !secret wifi_pw\n  port: !secret port\n"), ("conf/secrets.yaml", "wifi_pw: hunter2\nport: 8266\n")],
            &LoadOptions::default(),
        );
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let pw = get(&l.root, &["wifi", "password"]);
        assert_eq!(pw.value, Value::Str("hunter2".into()));
        assert_eq!(pw.secret.as_deref(), Some("wifi_pw"));
        assert_eq!(at(&s, pw.span), "conf/device.yaml:2:13");
        assert_eq!(s.text(pw.span), "!secret wifi_pw");
        assert_eq!(get(&l.root, &["wifi", "port"]).value, Value::Int(8266));
        // Read once, even though two secrets come from it.
        assert_eq!(s.iter().count(), 2);
    }

    #[test]
    fn missing_secret_key_and_missing_file() {
        let (s, l) = load_files(&[("device.yaml", "a: !secret nope\n"), ("secrets.yaml", "other: 1\n")], &LoadOptions::default());
        assert_eq!(problems(&s, &l), ["yaml::secret device.yaml:1:4 Secret 'nope' not defined"]);
        assert_eq!(l.diagnostics[0].label, "not in secrets.yaml");
        assert!(get(&l.root, &["a"]).is_null());

        let (s, l) = load_text("a: !secret pw\n");
        assert_eq!(
            problems(&s, &l),
            ["yaml::secret device.yaml:1:4 Secret 'pw' not defined: Error reading file secrets.yaml: No such file or directory"]
        );
    }

    #[test]
    fn included_file_falls_back_to_the_main_secrets() {
        let files = [
            ("device.yaml", "wifi: !include sub/wifi.yaml\n"),
            ("sub/wifi.yaml", "password: !secret pw\nssid: !secret ssid\n"),
            ("secrets.yaml", "pw: main\nssid: home\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let pw = get(&l.root, &["wifi", "password"]);
        assert_eq!(pw.value, Value::Str("main".into()));
        assert_eq!(at(&s, pw.span), "sub/wifi.yaml:1:11");

        // Next to the included file first; both failures are named when neither has it.
        let files = [("device.yaml", "wifi: !include sub/wifi.yaml\n"), ("sub/wifi.yaml", "password: !secret pw\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(
            problems(&s, &l),
            ["yaml::secret sub/wifi.yaml:1:11 Secret 'pw' not defined: Error reading file sub/secrets.yaml: No such file or directory; \
              Error reading file secrets.yaml: No such file or directory"]
        );
    }

    #[test]
    fn secrets_are_not_substituted() {
        let files = [("device.yaml", "substitutions:\n  x: X\na: !secret pw\n"), ("secrets.yaml", "pw: a$x\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(get(&l.root, &["a"]).value, Value::Str("a$x".into()));
    }

    #[test]
    fn a_secrets_file_using_its_own_secrets_does_not_recurse() {
        let files = [("device.yaml", "a: !secret a\n"), ("secrets.yaml", "a: !secret a\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l).len(), 1, "{:?}", problems(&s, &l));
    }
}
