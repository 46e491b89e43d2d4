//! Types that validate when they are constructed.

pub mod email;
pub mod password;
pub mod profile;

pub use email::Email;
pub use password::Password;
