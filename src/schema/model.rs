//! The declarative schema model, read from the YAML files in `schema/` (format: schema/README.md).

use crate::yaml::{Node, Value};

/// One component (`wifi`), platform component (`ota`) or platform (`ota/esphome`).
#[derive(Debug, Clone)]
pub struct Component {
    /// `wifi`, `ota`, or `ota.esphome` for a platform.
    pub name: String,
    pub doc: String,
    /// A target platform block (`esp32`, `host`, …): exactly one per config.
    pub target: bool,
    /// Other spellings of its key (ESPHome 2026 also calls `rp2040:` `rp2:`).
    pub aliases: Vec<String>,
    /// A platform component: its value is a list of `platform:` entries.
    pub platforms: bool,
    /// Components that must be present (or auto-loaded), as ESPHome's DEPENDENCIES.
    pub dependencies: Vec<String>,
    /// Components added with their defaults when absent, as ESPHome's AUTO_LOAD.
    pub auto_load: Vec<String>,
    /// The target platforms this component works on; empty means all.
    pub only_on: Vec<String>,
    /// The component's own keys; for a platform component, the keys every platform entry shares.
    pub config: MapSchema,
}

#[derive(Debug, Clone, Default)]
pub struct MapSchema {
    pub keys: Vec<KeySchema>,
}

impl MapSchema {
    pub fn key(&self, name: &str) -> Option<&KeySchema> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// An automation's trigger mapping: its own keys (these) plus the required `then:` (its
    /// actions, which the caller checks as actions).
    pub fn with_then(&self) -> MapSchema {
        let mut keys = self.clone();
        keys.keys.push(KeySchema {
            name: "then".into(),
            required: true,
            default: None,
            ty: Type::Any,
            doc: "The actions to run.".into(),
            only_on: Vec::new(),
        });
        keys
    }
}

#[derive(Debug, Clone)]
pub struct KeySchema {
    pub name: String,
    pub required: bool,
    pub default: Option<Default>,
    pub ty: Type,
    pub doc: String,
    /// `cv.only_on(...)`: the targets this key works on (empty: all).
    pub only_on: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Default {
    Value(Node),
    /// ESPHome's SplitDefault: one value per target platform; no default on the others.
    ByTarget(Vec<(String, Node)>),
}

/// A value type, named after the ESPHome validator it reproduces.
#[derive(Debug, Clone)]
pub enum Type {
    /// `cv.string`: numbers become their text; `sensitive` ones are masked in output.
    String { strict: bool, sensitive: bool, max_len: Option<usize>, check: Option<String> },
    /// `only`: the one value allowed, rejected otherwise with `message`.
    Boolean { only: Option<bool>, message: Option<String> },
    Int { min: Option<i64>, max: Option<i64> },
    /// `units`: ESPHome's `float_with_unit` suffixes (e.g. `dB`), after an optional metric
    /// prefix; a plain number is accepted too.
    Float { min: Option<f64>, max: Option<f64>, units: Vec<String> },
    /// `cv.one_of`: the value converted (`int`, `lower`, `upper`) and checked against `values`.
    OneOf { values: Vec<String>, conv: OneOfConv },
    /// A positive time period, stored in milliseconds.
    TimePeriod { min_ms: Option<u64>, max_ms: Option<u64> },
    /// Declares an ID of a C++-style `class` (used for type checks and auto IDs).
    Id { class: String },
    /// References an ID of `class`.
    UseId { class: String },
    /// A `!lambda` (or a plain string, as `cv.lambda_` accepts).
    Lambda,
    Map(MapSchema),
    /// `cv.ensure_list`: a single value becomes a one-item list.
    List(Box<Type>),
    /// An automation: actions, with these typed lambda arguments and extra trigger keys.
    Automation { args: Vec<(String, String)>, config: MapSchema },
    /// A key that is rejected with `message`; `moved_to`: the component it moved to.
    Invalid { message: String, moved_to: Option<String> },
    /// A mapping with free-form string keys.
    StringMap(Box<Type>),
    /// Anything; kept as written.
    /// `cv.templatable`: a `!lambda` computes the value at run time; anything else is checked
    /// as the inner type.
    Templatable(Box<Type>),
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneOfConv {
    None,
    Int,
    Lower,
    Upper,
}

/// What went wrong reading a schema file (a bug in `schema/`, caught by the test suite).
#[derive(Debug)]
pub struct SchemaError(pub String);

fn err<T>(node: &Node, msg: impl std::fmt::Display) -> Result<T, SchemaError> {
    Err(SchemaError(format!("{msg} (at byte {})", node.span.start)))
}

fn str_list(node: Option<&Node>) -> Result<Vec<String>, SchemaError> {
    let Some(node) = node else { return Ok(Vec::new()) };
    match &node.value {
        Value::Seq(items) => items.iter().map(scalar).collect(),
        _ => err(node, "expected a list of names"),
    }
}

fn scalar(node: &Node) -> Result<String, SchemaError> {
    node.value.to_python_str().map_or_else(|| err(node, "expected a scalar"), Ok)
}

impl Component {
    /// Reads one schema file's tree. `name` comes from the file name.
    pub fn from_node(name: &str, node: &Node) -> Result<Component, SchemaError> {
        const KNOWN: &[&str] = &["doc", "target", "aliases", "platforms", "dependencies", "auto_load", "only_on", "config"];
        for e in node.as_map().unwrap_or_default() {
            if !KNOWN.contains(&e.key.key_text().as_str()) {
                return err(&e.key, format!("unknown schema field `{}` in {name}", e.key.key_text()));
            }
        }
        Ok(Component {
            name: name.to_string(),
            doc: node.get("doc").map(scalar).transpose()?.unwrap_or_default(),
            target: matches!(node.get("target").map(|n| &n.value), Some(Value::Bool(true))),
            aliases: str_list(node.get("aliases"))?,
            platforms: matches!(node.get("platforms").map(|n| &n.value), Some(Value::Bool(true))),
            dependencies: str_list(node.get("dependencies"))?,
            auto_load: str_list(node.get("auto_load"))?,
            only_on: str_list(node.get("only_on"))?,
            config: match node.get("config") {
                Some(c) => MapSchema::from_node(c)?,
                None => MapSchema::default(),
            },
        })
    }
}

impl MapSchema {
    pub fn from_node(node: &Node) -> Result<MapSchema, SchemaError> {
        if node.is_null() {
            return Ok(MapSchema::default());
        }
        let Some(entries) = node.as_map() else { return err(node, "`config` must be a mapping of keys") };
        let keys = entries
            .iter()
            .map(|e| KeySchema::parse(&e.key.key_text(), &e.value))
            .collect::<Result<_, _>>()?;
        Ok(MapSchema { keys })
    }
}

impl KeySchema {
    /// A key is either a type name (`port: port`) or a mapping with `type` and options.
    pub fn parse(name: &str, node: &Node) -> Result<KeySchema, SchemaError> {
        if let Some(ty) = node.as_str() {
            let ty = Type::from_node(ty, &Node::new(node.span, Value::Map(Vec::new())))?;
            return Ok(KeySchema { name: name.into(), required: false, default: None, ty, doc: String::new(), only_on: Vec::new() });
        }
        let type_name = node.get("type").map(scalar).transpose()?.unwrap_or_else(|| "map".into());
        let default = match (node.get("default"), node.get("default_by_target")) {
            (Some(d), None) => Some(Default::Value(d.clone())),
            (None, Some(by)) => Some(Default::ByTarget(
                by.as_map()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| (e.key.key_text(), e.value.clone()))
                    .collect(),
            )),
            (None, None) => None,
            (Some(_), Some(_)) => return err(node, format!("`{name}` has both default and default_by_target")),
        };
        Ok(KeySchema {
            name: name.into(),
            required: matches!(node.get("required").map(|n| &n.value), Some(Value::Bool(true))),
            default,
            ty: Type::from_node(&type_name, node)?,
            doc: node.get("doc").map(scalar).transpose()?.unwrap_or_default(),
            only_on: str_list(node.get("only_on"))?,
        })
    }
}

impl Type {
    fn from_node(name: &str, opts: &Node) -> Result<Type, SchemaError> {
        let int = |key: &str| -> Result<Option<i64>, SchemaError> {
            match opts.get(key).map(|n| &n.value) {
                None => Ok(None),
                Some(Value::Int(i)) => Ok(Some(*i)),
                Some(_) => err(opts, format!("`{key}` must be an integer")),
            }
        };
        let float = |key: &str| -> Option<f64> {
            match opts.get(key).map(|n| &n.value) {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(f)) => Some(*f),
                _ => None,
            }
        };
        let flag = |key: &str| matches!(opts.get(key).map(|n| &n.value), Some(Value::Bool(true)));
        let text = |key: &str| opts.get(key).map(scalar).transpose();
        let millis = |key: &str| -> Result<Option<u64>, SchemaError> {
            let Some(n) = opts.get(key) else { return Ok(None) };
            crate::schema::scalar::time_period_ms(n)
                .map(Some)
                .map_err(|m| SchemaError(format!("`{key}`: {}", m.message)))
        };
        let ty = match name {
            "string" | "string_strict" | "sensitive" => Type::String {
                strict: name == "string_strict",
                sensitive: name == "sensitive" || flag("sensitive"),
                max_len: int("max_length")?.map(|n| n as usize),
                check: text("check")?,
            },
            "boolean" => Type::Boolean {
                only: match opts.get("only").map(|n| &n.value) {
                    Some(Value::Bool(b)) => Some(*b),
                    _ => None,
                },
                message: text("message")?,
            },
            "int" => Type::Int { min: int("min")?, max: int("max")? },
            "positive_not_null_int" => Type::Int { min: Some(1), max: int("max")? },
            "port" => Type::Int { min: Some(1), max: Some(65535) },
            "float" => Type::Float { min: float("min"), max: float("max"), units: str_list(opts.get("units"))? },
            "one_of" => Type::OneOf {
                values: str_list(opts.get("values"))?,
                conv: if flag("int") {
                    OneOfConv::Int
                } else if flag("lower") {
                    OneOfConv::Lower
                } else if flag("upper") {
                    OneOfConv::Upper
                } else {
                    OneOfConv::None
                },
            },
            "time_period" => Type::TimePeriod { min_ms: millis("min")?, max_ms: millis("max")? },
            "id" => Type::Id { class: text("class")?.unwrap_or_default() },
            "use_id" => Type::UseId { class: text("class")?.unwrap_or_default() },
            "lambda" => Type::Lambda,
            "map" => Type::Map(match opts.get("config") {
                Some(c) => MapSchema::from_node(c)?,
                None => MapSchema::default(),
            }),
            "list" => {
                let item = opts.get("item").ok_or_else(|| SchemaError("`list` needs `item`".into()))?;
                Type::List(Box::new(KeySchema::parse("item", item)?.ty))
            }
            "string_map" => {
                let item = opts.get("item").ok_or_else(|| SchemaError("`string_map` needs `item`".into()))?;
                Type::StringMap(Box::new(KeySchema::parse("item", item)?.ty))
            }
            "automation" => Type::Automation {
                args: opts
                    .get("args")
                    .and_then(Node::as_map)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| Ok((e.key.key_text(), scalar(&e.value)?)))
                    .collect::<Result<_, SchemaError>>()?,
                config: match opts.get("config") {
                    Some(c) => MapSchema::from_node(c)?,
                    None => MapSchema::default(),
                },
            },
            "invalid" => Type::Invalid { message: text("message")?.unwrap_or_default(), moved_to: text("moved_to")? },
            "any" => Type::Any,
            other => return err(opts, format!("unknown type `{other}`")),
        };
        Ok(if flag("templatable") { Type::Templatable(Box::new(ty)) } else { ty })
    }
}
