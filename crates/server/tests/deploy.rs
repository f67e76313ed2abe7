//! The deployment files agree with the image and with the server: the port, the health check's
//! path, the volume's mount path and the environment variables (every `CHATTERBOX_*` name they set
//! is one the server reads) in Dockerfile.base / Dockerfile.web, deploy/docker-compose.yml and
//! deploy/ecs/cloudformation.yml.

use clap::CommandFactory;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The environment variables the server reads (its clap arguments' `env`).
fn server_env() -> Vec<String> {
    chatterbox_server::Config::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

/// What a Dockerfile declares: its instructions with continuation lines joined.
struct Dockerfile(Vec<(String, String)>);

impl Dockerfile {
    fn read(path: &str) -> Self {
        let text = read(path).replace("\\\n", " ");
        Self(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_uppercase(), v.trim().to_string()))
                .collect(),
        )
    }

    fn all(&self, instruction: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == instruction)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, instruction: &str) -> &str {
        let all = self.all(instruction);
        assert_eq!(all.len(), 1, "one {instruction}: {all:?}");
        all[0]
    }

    /// `ENV A=1 B=2` pairs (values without spaces, as ours are).
    fn env(&self) -> BTreeMap<String, String> {
        self.all("ENV")
            .iter()
            .flat_map(|v| v.split_whitespace())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The exec-form HEALTHCHECK command.
    fn healthcheck(&self) -> Vec<String> {
        let hc = self.one("HEALTHCHECK");
        let cmd = &hc[hc.find("CMD [").expect("exec-form CMD") + 4..];
        serde_json::from_str(cmd).expect("HEALTHCHECK CMD is a JSON array")
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn compose_cloudformation_and_dockerfiles_agree_with_the_image_and_the_server() {
    let reads = server_env();
    assert!(reads.iter().any(|e| e == "CHATTERBOX_PORT"), "{reads:?}");
    let known = |name: &str, what: &str| {
        assert!(
            reads.iter().any(|e| e == name),
            "{what} sets {name}, which the server does not read (it reads {reads:?})"
        );
    };

    // The image: Dockerfile.base's environment, Dockerfile.web's port, volume and health check.
    let base = Dockerfile::read("Dockerfile.base");
    let server = Dockerfile::read("Dockerfile.web");
    let env = base.env();
    for name in env.keys().filter(|k| k.starts_with("CHATTERBOX_")) {
        known(name, "Dockerfile.base");
    }
    let port: u16 = env["CHATTERBOX_PORT"].parse().expect("port");
    let out_dir = env["CHATTERBOX_OUT_DIR"].clone();
    assert_eq!(server.one("EXPOSE"), port.to_string());
    assert_eq!(server.one("VOLUME"), format!("[\"{out_dir}\"]"));
    let health = server.healthcheck();
    let health_url = health.last().expect("url").clone();
    // Compose and ECS spell the same exec-form command with a leading "CMD".
    let health_cmd: Vec<String> = std::iter::once("CMD".to_string())
        .chain(health.iter().cloned())
        .collect();
    assert_eq!(health_url, format!("http://127.0.0.1:{port}/health"));
    assert!(
        chatterbox_server::openapi::route_patterns().contains(&"/health".to_string()),
        "the server has /health"
    );
    let web = Dockerfile::read("web/Dockerfile");
    let web_port = web.one("EXPOSE").to_string();
    assert_eq!(
        web.env().get("TTS_API_BASE").map(String::as_str),
        Some(format!("http://backend:{port}").as_str())
    );

    // docker compose.
    let compose = yaml("deploy/docker-compose.yml");
    let backend = &compose["services"]["backend"];
    let backend_env = backend["environment"].as_mapping().expect("environment");
    for name in backend_env.keys().filter_map(Value::as_str) {
        known(name, "docker-compose.yml");
    }
    let volumes = strings(&backend["volumes"]);
    assert!(
        volumes.iter().any(|v| v.ends_with(&format!(":{out_dir}"))),
        "compose mounts the out volume at {out_dir}: {volumes:?}"
    );
    assert_eq!(strings(&backend["healthcheck"]["test"]), health_cmd);
    let web_svc = &compose["services"]["web"];
    assert_eq!(
        web_svc["environment"]["TTS_API_BASE"].as_str(),
        Some(format!("http://backend:{port}").as_str())
    );
    let published = strings(&web_svc["ports"]);
    assert!(
        published
            .iter()
            .all(|p| p.ends_with(&format!(":{web_port}"))),
        "{published:?}"
    );
    let web_health = strings(&web_svc["healthcheck"]["test"]).join(" ");
    assert!(
        web_health.contains(&format!("127.0.0.1:{web_port}/tts")),
        "{web_health}"
    );

    // CloudFormation (ECS): the task's container, the target group, the service, the firewall.
    let cfn = yaml("deploy/ecs/cloudformation.yml");
    let res = &cfn["Resources"];
    let containers = res["TaskDefinition"]["Properties"]["ContainerDefinitions"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(
        c["PortMappings"][0]["ContainerPort"].as_u64(),
        Some(port.into())
    );
    for e in c["Environment"].as_sequence().expect("Environment") {
        let name = e["Name"].as_str().expect("Name");
        known(name, "cloudformation.yml");
        if name == "CHATTERBOX_OUT_DIR" {
            assert_eq!(e["Value"].as_str(), Some(out_dir.as_str()));
        }
        assert_ne!(name, "CHATTERBOX_PORT", "the port is the image's");
    }
    assert_eq!(
        c["MountPoints"][0]["ContainerPath"].as_str(),
        Some(out_dir.as_str())
    );
    assert_eq!(strings(&c["HealthCheck"]["Command"]), health_cmd);
    let tg = &res["TargetGroup"]["Properties"];
    assert_eq!(tg["Port"].as_u64(), Some(port.into()));
    assert_eq!(tg["HealthCheckPath"].as_str(), Some("/health"));
    let lb = &res["Service"]["Properties"]["LoadBalancers"][0];
    assert_eq!(lb["ContainerPort"].as_u64(), Some(port.into()));
    let ingress = &res["ServiceSecurityGroup"]["Properties"]["SecurityGroupIngress"][0];
    assert_eq!(ingress["FromPort"].as_u64(), Some(port.into()));
    assert_eq!(ingress["ToPort"].as_u64(), Some(port.into()));
    // Any task serves any session (the out directory on EFS is the truth): no stickiness.
    let sticky = tg["TargetGroupAttributes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|a| {
            a["Key"].as_str() == Some("stickiness.enabled") && a["Value"].as_str() == Some("true")
        });
    assert!(!sticky, "the target group needs no stickiness");
}
