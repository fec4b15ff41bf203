"""Recording a performance and replaying it."""
