//! [`validate`]: a `Shop` checked for what the schema cannot check, with every default filled in.
//!
//! The builders take a [`Resolved`] and never read the raw spec, so each default is decided here,
//! once, and a Shop that reaches them is known to be buildable.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::data::{POSTGRES_IMAGE, REDIS_IMAGE};
use super::{MAX_SHOP_NAME, fit};
use crate::crd::{ExternalPostgres, IngressSpec, MonitoringSpec, PostgresMode, SERVICES, ServiceName, Shop};
use crate::{Error, Result};

/// Default replicas of a service without autoscaling.
pub const DEFAULT_REPLICAS: i32 = 2;
/// Default target CPU utilisation of an HPA, in percent of requests.
pub const DEFAULT_TARGET_CPU: i32 = 70;

/// A valid Shop with its defaults: what the builders (and the steps around them) read.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub name: String,
    pub namespace: String,
    /// The controller owner reference every child carries.
    pub owner: OwnerReference,
    /// The image every service runs (once its migrations succeeded).
    pub image: String,
    pub host: String,
    /// The shop's public URL (`https` with TLS).
    pub url: String,
    pub currency: String,
    pub admin_email: String,
    pub ingress: IngressSpec,
    /// The enabled services, in build order.
    pub services: Vec<Service>,
    pub postgres: Postgres,
    pub redis: Redis,
    pub monitoring: MonitoringSpec,
    pub paused: bool,
}

/// One enabled service.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: ServiceName,
    pub scale: Scale,
    /// The user's requests and limits (a memory limit checked); the builder's defaults when `None`.
    pub resources: Option<ResourceRequirements>,
    /// `RUST_LOG`.
    pub log: String,
}

/// How many replicas a service runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// `spec.replicas` of the Deployment.
    Fixed(i32),
    /// An HPA on CPU owns the replicas.
    Auto { min: i32, max: i32, target_cpu: i32 },
}

/// Postgres, by mode.
#[derive(Clone, Debug, PartialEq)]
pub enum Postgres {
    /// The operator's single instance.
    Single {
        image: String,
        storage: String,
        storage_class: Option<String>,
        resources: Option<ResourceRequirements>,
        backup: Option<LogicalBackup>,
    },
    /// A CloudNativePG `Cluster`.
    CloudNativePg {
        instances: i32,
        storage: String,
        storage_class: Option<String>,
        image_name: Option<String>,
        backup: Option<CloudNativePgBackup>,
    },
    /// Someone else's.
    External(ExternalPostgres),
}

/// The single instance's scheduled `pg_dump`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogicalBackup {
    pub schedule: String,
    pub keep: i32,
    pub storage: String,
    pub storage_class: Option<String>,
}

/// A CloudNativePG cluster's backups to an object store.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudNativePgBackup {
    pub destination_path: String,
    pub endpoint_url: Option<String>,
    /// The Secret with `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`.
    pub secret: String,
    pub schedule: String,
    pub retention: String,
}

/// Redis, managed or external.
#[derive(Clone, Debug, PartialEq)]
pub enum Redis {
    Managed {
        image: String,
        /// The volume's size when persistent; `None` keeps the data in memory only.
        storage: Option<String>,
        storage_class: Option<String>,
        resources: Option<ResourceRequirements>,
    },
    /// The Secret whose key `url` holds the `redis://` URL.
    External { secret: String },
}

impl Resolved {
    /// The enabled service `name`, if it is.
    pub fn service(&self, name: ServiceName) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Whether a service is switched on.
    pub fn enabled(&self, name: ServiceName) -> bool {
        self.service(name).is_some()
    }

    /// The enabled services' names, in build order.
    pub fn enabled_services(&self) -> impl Iterator<Item = ServiceName> + '_ {
        self.services.iter().map(|s| s.name)
    }

    /// The enabled services that own a database.
    pub fn database_owners(&self) -> Vec<ServiceName> {
        self.enabled_services().filter(|s| s.owns_database()).collect()
    }

    /// Which Postgres this is.
    pub fn postgres_mode(&self) -> PostgresMode {
        match self.postgres {
            Postgres::Single { .. } => PostgresMode::Single,
            Postgres::CloudNativePg { .. } => PostgresMode::CloudNativePg,
            Postgres::External(_) => PostgresMode::External,
        }
    }

    /// `<shop>-<suffix>`, shortened with a hash if it would not fit a DNS label.
    pub fn child(&self, suffix: &str) -> String {
        fit(format!("{}-{suffix}", self.name))
    }

    /// The Secret holding a service's generated database credentials.
    pub fn db_secret(&self, service: ServiceName) -> String {
        self.child(&format!("db-{service}"))
    }

    /// The StatefulSets with a volume claim template, and the size each asks for.
    pub fn volumes(&self) -> Vec<(String, String)> {
        let mut volumes = Vec::new();
        if let Postgres::Single { storage, .. } = &self.postgres {
            volumes.push((self.child("postgres"), storage.clone()));
        }
        if let Redis::Managed {
            storage: Some(storage), ..
        } = &self.redis
        {
            volumes.push((self.child("redis"), storage.clone()));
        }
        volumes
    }
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidSpec(why.into())
}

/// Checks what the schema cannot, and fills in every default.
pub fn validate(shop: &Shop) -> Result<Resolved> {
    let spec = &shop.spec;
    if spec.image.trim().is_empty() {
        return Err(invalid("spec.image is empty"));
    }
    let name = shop.name_any();
    let label = name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.len() > MAX_SHOP_NAME || !label {
        return Err(invalid(format!(
            "the Shop's name {name:?} must be at most {MAX_SHOP_NAME} characters: a lower-case letter, then letters, digits and '-'"
        )));
    }
    let namespace = shop.namespace().ok_or_else(|| invalid("the Shop has no namespace"))?;
    let owner = shop
        .controller_owner_ref(&())
        .ok_or_else(|| invalid("the Shop has no uid yet"))?;

    let mut services = Vec::new();
    for service in SERVICES {
        let s = spec.services.get(service);
        if let Some(a) = &s.autoscaling
            && a.min_replicas.unwrap_or(DEFAULT_REPLICAS) > a.max_replicas
        {
            return Err(invalid(format!(
                "services.{service}.autoscaling: minReplicas exceeds maxReplicas"
            )));
        }
        if let Some(r) = &s.resources
            && r.limits.as_ref().is_none_or(|l| !l.contains_key("memory"))
        {
            return Err(invalid(format!(
                "services.{service}.resources: a memory limit is required"
            )));
        }
        if !spec.enabled(service) {
            continue;
        }
        let scale = match s.autoscaling_for(service) {
            Some(a) => Scale::Auto {
                min: a.min_replicas.unwrap_or(DEFAULT_REPLICAS),
                max: a.max_replicas,
                target_cpu: a.target_cpu.unwrap_or(DEFAULT_TARGET_CPU),
            },
            None => Scale::Fixed(s.replicas.unwrap_or(DEFAULT_REPLICAS)),
        };
        services.push(Service {
            name: service,
            scale,
            resources: s.resources,
            log: s.log.unwrap_or_else(|| "info".to_owned()),
        });
    }
    if services.is_empty() {
        return Err(invalid("every service is disabled"));
    }

    let pg = &spec.postgres;
    let postgres = match (&pg.external, &pg.cloud_native_pg) {
        (Some(external), _) => {
            for service in services.iter().map(|s| s.name).filter(|s| s.owns_database()) {
                if external.url_of(service).0.is_empty() {
                    return Err(invalid(format!(
                        "postgres.external names no Secret for {service}'s DATABASE_URL"
                    )));
                }
            }
            Postgres::External(external.clone())
        }
        (None, Some(cnpg)) => Postgres::CloudNativePg {
            instances: cnpg.instances.unwrap_or(3),
            storage: cnpg.storage.clone().unwrap_or_else(|| "10Gi".to_owned()),
            storage_class: cnpg.storage_class_name.clone(),
            image_name: cnpg.image_name.clone(),
            backup: cnpg.backup.as_ref().map(|b| CloudNativePgBackup {
                destination_path: b.destination_path.clone(),
                endpoint_url: b.endpoint_url.clone(),
                secret: b.secret_ref.name.clone(),
                schedule: b.schedule.clone().unwrap_or_else(|| "0 0 3 * * *".to_owned()),
                retention: b.retention.clone().unwrap_or_else(|| "30d".to_owned()),
            }),
        },
        (None, None) => Postgres::Single {
            image: pg.image.clone().unwrap_or_else(|| POSTGRES_IMAGE.to_owned()),
            storage: pg.storage.clone().unwrap_or_else(|| "1Gi".to_owned()),
            storage_class: pg.storage_class_name.clone(),
            resources: pg.resources.clone(),
            backup: pg.backup.as_ref().map(|b| LogicalBackup {
                schedule: b.schedule.clone().unwrap_or_else(|| "0 3 * * *".to_owned()),
                keep: b.keep.unwrap_or(7),
                storage: b.storage.clone().unwrap_or_else(|| "2Gi".to_owned()),
                storage_class: b.storage_class_name.clone(),
            }),
        },
    };

    let r = &spec.redis;
    let redis = match &r.external {
        Some(external) => Redis::External {
            secret: external.secret_ref.name.clone(),
        },
        None => Redis::Managed {
            image: r.image.clone().unwrap_or_else(|| REDIS_IMAGE.to_owned()),
            storage: r
                .persistence
                .unwrap_or(false)
                .then(|| r.storage.clone().unwrap_or_else(|| "1Gi".to_owned())),
            storage_class: r.storage_class_name.clone(),
            resources: r.resources.clone(),
        },
    };

    Ok(Resolved {
        name,
        namespace,
        owner,
        image: spec.image.clone(),
        host: spec.host.clone(),
        url: spec.url(),
        currency: spec.currency.clone(),
        admin_email: spec.admin_email(),
        ingress: spec.ingress.clone().unwrap_or_default(),
        services,
        postgres,
        redis,
        monitoring: spec.monitoring.clone(),
        paused: spec.paused,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn shop(spec: serde_json::Value) -> Shop {
        let mut shop = Shop::new("demo", serde_json::from_value(spec).unwrap());
        shop.metadata.namespace = Some("shop".to_owned());
        shop.metadata.uid = Some("uid".to_owned());
        shop
    }

    #[test]
    fn the_defaults_are_resolved_once_here() {
        let r = validate(&shop(json!({"image": "img:1"}))).unwrap();
        assert_eq!(r.services.len(), 5);
        let scale = |s: ServiceName| r.service(s).unwrap().scale;
        let auto = Scale::Auto {
            min: 2,
            max: 6,
            target_cpu: 70,
        };
        assert_eq!(scale(ServiceName::Gateway), auto);
        assert_eq!(scale(ServiceName::Cart), auto);
        assert_eq!(scale(ServiceName::Auth), Scale::Fixed(2));
        assert_eq!(r.service(ServiceName::Order).unwrap().log, "info");
        assert_eq!(
            r.postgres,
            Postgres::Single {
                image: "postgres:17".to_owned(),
                storage: "1Gi".to_owned(),
                storage_class: None,
                resources: None,
                backup: None,
            }
        );
        assert!(matches!(&r.redis, Redis::Managed { storage: None, image, .. } if image == "redis:7.4"));
        assert_eq!(r.volumes(), [("demo-postgres".to_owned(), "1Gi".to_owned())]);
        assert_eq!(
            (r.url.as_str(), r.admin_email.as_str()),
            ("http://shop.local", "admin@shop.local")
        );
        assert_eq!(r.owner.uid, "uid");
    }

    #[test]
    fn settings_override_the_defaults() {
        let r = validate(&shop(json!({
            "image": "img:1",
            "services": {"cart": {"replicas": 3}, "order": {"enabled": false},
                         "auth": {"autoscaling": {"maxReplicas": 4, "targetCPU": 50}}},
            "redis": {"persistence": true, "storage": "3Gi"},
            "postgres": {"backup": {"keep": 3}},
        })))
        .unwrap();
        assert!(!r.enabled(ServiceName::Order));
        assert_eq!(r.service(ServiceName::Cart).unwrap().scale, Scale::Fixed(3));
        assert_eq!(
            r.service(ServiceName::Auth).unwrap().scale,
            Scale::Auto {
                min: 2,
                max: 4,
                target_cpu: 50
            }
        );
        assert_eq!(r.database_owners(), [ServiceName::Auth, ServiceName::Catalog]);
        assert!(matches!(&r.postgres, Postgres::Single { backup: Some(b), .. }
            if b.keep == 3 && b.schedule == "0 3 * * *" && b.storage == "2Gi"));
        assert_eq!(r.volumes()[1], ("demo-redis".to_owned(), "3Gi".to_owned()));
    }

    #[test]
    fn what_the_schema_cannot_check_is_refused() {
        let refused = |spec| validate(&shop(spec)).unwrap_err().to_string();
        assert!(refused(json!({"image": " "})).contains("spec.image"));
        assert!(
            refused(json!({"image": "i", "services": {"auth": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}}}))
                .contains("minReplicas")
        );
        let off = json!({"enabled": false});
        let all_off =
            json!({"image": "i", "services": {"auth": off, "catalog": off, "cart": off, "order": off, "gateway": off}});
        assert!(refused(all_off).contains("every service"));
        let mut nameless = shop(json!({"image": "i"}));
        nameless.metadata.uid = None;
        assert!(validate(&nameless).is_err());
    }
}
