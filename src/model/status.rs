//! String-valued enums of the wire format.
//!
//! Every enum keeps a value this SDK does not know in an `Unknown(String)`
//! variant and sends it back unchanged, so a server that adds a value never
//! breaks parsing nor loses data on save.

wire_enum! {
    /// The execution status of a task.
    ///
    /// Known values are cheap to clone and compare (no allocation); only
    /// [`AgentExecutionStatus::Unknown`] owns a string.
    ///
    /// ```
    /// use xpander_sdk::model::AgentExecutionStatus;
    ///
    /// let status: AgentExecutionStatus = "completed".parse().unwrap();
    /// assert_eq!(status, AgentExecutionStatus::Completed);
    /// assert!(status.is_terminal());
    /// assert_eq!(status.to_string(), "completed");
    ///
    /// // A value the server added later is kept verbatim.
    /// let future: AgentExecutionStatus = "awaiting_review".parse().unwrap();
    /// assert_eq!(future, AgentExecutionStatus::Unknown("awaiting_review".into()));
    /// assert_eq!(future.as_str(), "awaiting_review");
    /// assert!(!future.is_terminal());
    /// ```
    pub enum AgentExecutionStatus {
        /// Created, not started yet.
        Pending = "pending",
        /// Running.
        Executing = "executing",
        /// Waiting (for a human, an auth flow, ...).
        Paused = "paused",
        /// Ended with an error.
        Error = "error",
        /// Ended as failed.
        Failed = "failed",
        /// Ended successfully.
        Completed = "completed",
        /// Stopped by a user.
        Stopped = "stopped",
    }
    default = Pending;
}

impl AgentExecutionStatus {
    /// `true` for a status after which the task no longer runs:
    /// `completed`, `failed`, `error` and `stopped`. An unknown status is not
    /// terminal.
    ///
    /// ```
    /// use xpander_sdk::model::AgentExecutionStatus;
    /// assert!(AgentExecutionStatus::Failed.is_terminal());
    /// assert!(!AgentExecutionStatus::Executing.is_terminal());
    /// ```
    #[inline]
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            AgentExecutionStatus::Completed
                | AgentExecutionStatus::Failed
                | AgentExecutionStatus::Error
                | AgentExecutionStatus::Stopped
        )
    }
}

wire_enum! {
    /// The format the agent answers in.
    ///
    /// ```
    /// use xpander_sdk::model::OutputFormat;
    /// assert_eq!("markdown".parse::<OutputFormat>().unwrap(), OutputFormat::Markdown);
    /// assert_eq!(OutputFormat::default(), OutputFormat::Text);
    /// ```
    pub enum OutputFormat {
        /// Plain text.
        Text = "text",
        /// Markdown.
        Markdown = "markdown",
        /// JSON (see `Task::output_schema`).
        Json = "json",
        /// Voice.
        Voice = "voice",
    }
    default = Text;
}

wire_enum! {
    /// How hard the agent thinks.
    ///
    /// ```
    /// use xpander_sdk::model::ThinkMode;
    /// assert_eq!(ThinkMode::Harder.as_str(), "harder");
    /// assert_eq!(ThinkMode::default(), ThinkMode::Default);
    /// ```
    pub enum ThinkMode {
        /// The default effort.
        Default = "default",
        /// More effort.
        Harder = "harder",
    }
    default = Default;
}

wire_enum! {
    /// Where an MCP server runs.
    ///
    /// ```
    /// use xpander_sdk::model::McpServerType;
    /// assert_eq!("remote".parse::<McpServerType>().unwrap(), McpServerType::Remote);
    /// ```
    pub enum McpServerType {
        /// A local process (see `McpServer::command`).
        Local = "local",
        /// A remote server (see `McpServer::url`).
        Remote = "remote",
    }
    default = Local;
}

wire_enum! {
    /// The transport spoken with an MCP server.
    ///
    /// ```
    /// use xpander_sdk::model::McpTransport;
    /// assert_eq!(McpTransport::StreamableHttp.to_string(), "streamable-http");
    /// ```
    pub enum McpTransport {
        /// Standard input/output of a local process.
        Stdio = "stdio",
        /// Server-sent events.
        Sse = "sse",
        /// Streamable HTTP.
        StreamableHttp = "streamable-http",
    }
    default = Stdio;
}

wire_enum! {
    /// How the client authenticates to an MCP server.
    ///
    /// ```
    /// use xpander_sdk::model::McpAuthType;
    /// assert_eq!("oauth2".parse::<McpAuthType>().unwrap(), McpAuthType::OAuth2);
    /// ```
    pub enum McpAuthType {
        /// An API key (see `McpServer::api_key`).
        ApiKey = "api_key",
        /// OAuth 2.
        OAuth2 = "oauth2",
        /// No authentication.
        None = "none",
    }
    default = ApiKey;
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! round_trips {
        ($($ty:ty),+) => {$(
            for value in <$ty>::KNOWN {
                let text = value.to_string();
                assert_eq!(text, value.as_str());
                assert_eq!(&text.parse::<$ty>().unwrap(), value);
                assert!(!value.is_unknown());
                let json = serde_json::to_value(value).unwrap();
                assert_eq!(json, serde_json::Value::String(text.clone()));
                assert_eq!(&serde_json::from_value::<$ty>(json).unwrap(), value);
            }
            let unknown: $ty = "something-new".parse().unwrap();
            assert!(unknown.is_unknown());
            assert_eq!(unknown.as_str(), "something-new");
            assert_eq!(unknown.to_string(), "something-new");
            assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"something-new\"");
            let back: $ty = serde_json::from_str("\"something-new\"").unwrap();
            assert_eq!(back, unknown);
            // Escaped strings go through `visit_string`.
            let escaped: $ty = serde_json::from_str("\"a\\u00e9\"").unwrap();
            assert_eq!(escaped.as_str(), "a\u{e9}");
            assert!(serde_json::from_str::<$ty>("42").is_err());
        )+};
    }

    #[test]
    fn every_enum_round_trips() {
        round_trips!(
            AgentExecutionStatus,
            OutputFormat,
            ThinkMode,
            McpServerType,
            McpTransport,
            McpAuthType
        );
    }

    #[test]
    fn status_wire_strings() {
        let expected = [
            (AgentExecutionStatus::Pending, "pending", false),
            (AgentExecutionStatus::Executing, "executing", false),
            (AgentExecutionStatus::Paused, "paused", false),
            (AgentExecutionStatus::Error, "error", true),
            (AgentExecutionStatus::Failed, "failed", true),
            (AgentExecutionStatus::Completed, "completed", true),
            (AgentExecutionStatus::Stopped, "stopped", true),
        ];
        assert_eq!(AgentExecutionStatus::KNOWN.len(), expected.len());
        for (status, wire, terminal) in expected {
            assert_eq!(status.as_str(), wire);
            assert_eq!(status.is_terminal(), terminal, "{wire}");
        }
        assert!(!AgentExecutionStatus::Unknown("completed!".into()).is_terminal());
    }

    #[test]
    fn other_wire_strings() {
        assert_eq!(McpTransport::StreamableHttp.as_str(), "streamable-http");
        assert_eq!(McpAuthType::ApiKey.as_str(), "api_key");
        assert_eq!(McpAuthType::OAuth2.as_str(), "oauth2");
        assert_eq!(McpAuthType::None.as_str(), "none");
        assert_eq!(OutputFormat::Json.as_str(), "json");
        assert_eq!(OutputFormat::Voice.as_str(), "voice");
        // Case matters on the wire: a differently cased value is unknown.
        assert!("Completed"
            .parse::<AgentExecutionStatus>()
            .unwrap()
            .is_unknown());
        assert_eq!(
            format!("{:>10}", AgentExecutionStatus::Paused),
            "    paused"
        );
    }
}
