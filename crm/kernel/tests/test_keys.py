from crm.kernel.keys import TOKEN_MAX, document_key


def test_a_retried_token_gives_the_same_key_and_no_token_never_merges():
    assert document_key("inventory", "transfer", " abc ") == document_key("inventory", "transfer", "abc")
    assert document_key("inventory", "transfer", "abc") == "inventory:transfer:abc"
    assert document_key("purchasing", "receipt", None) != document_key("purchasing", "receipt", "  ")


def test_a_long_token_is_cut_to_fit_the_key_columns():
    key = document_key("purchasing", "payment", "x" * 500)
    assert key == "purchasing:payment:" + "x" * TOKEN_MAX
    assert len(key) <= 200
