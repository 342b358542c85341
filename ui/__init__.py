"""The Gradio UI of `labqa serve`: chat with cited answers, paper browser, evaluation tab, `ask` API."""
