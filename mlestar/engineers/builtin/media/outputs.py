"""The end of every media script's main (pixels, masks, boxes): its out-of-fold and test
predictions saved as the contract names them, and its predictor pickled when the harness asks."""

from __future__ import annotations

from mlestar import contract


def saved_outputs(oof: str) -> str:
    """Script text closing main, given the expression of the out-of-fold array to save; it reads
    `predictor`, `test` and `start` from main."""
    return f'''    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{contract.OOF_FILE}", {oof})
    np.save(OUTPUT / "{contract.TEST_PRED_FILE}", predictor.predict(test))
    if SAVE_MODEL:
        with open(OUTPUT / "{contract.MODEL_FILE}", "wb") as handle:
            cloudpickle.dump(predictor, handle)
    print(f"done in {{time.time() - start:.1f}}s", flush=True)


if __name__ == "__main__":
    main()
'''
