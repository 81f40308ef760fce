"""Every shipped prompt template renders (with its declared sample variables) and missing variables fail loudly."""

import pytest

from daogou.prompts import PromptError, available_prompts, load_prompts, render


def _templates():
    for name in available_prompts():
        samples = load_prompts(name).get("_samples", {})
        for key, entry in load_prompts(name).items():
            if key.startswith("_") or not isinstance(entry, str | dict):
                continue
            langs = list(entry) if isinstance(entry, dict) else [None]
            for lang in langs:
                if isinstance(entry, dict) and not isinstance(entry[lang], str):
                    continue
                yield name, key, lang, samples.get(key, {})


@pytest.mark.parametrize(("name", "key", "lang", "variables"), list(_templates()))
def test_every_template_renders(name, key, lang, variables):
    assert render(name, key, lang=lang, **variables)


def test_missing_file_key_language_and_variable_are_clear():
    with pytest.raises(PromptError, match="available"):
        render("nope", "x")
    if available_prompts():
        name = available_prompts()[0]
        with pytest.raises(PromptError, match="no key"):
            render(name, "definitely-missing")
