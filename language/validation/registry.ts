/**
 * Langium's validation registry with its exception wrapper kept synchronous. Langium 4 wraps every
 * check in an async function (a promise per node and check, which costs more than most of our
 * checks) and reports a throwing check as an error diagnostic, which would make a half-typed spec
 * unrunnable because of a bug in one check. Here a check's exception is logged and the other checks
 * go on; synchronous checks stay synchronous, asynchronous ones are awaited by the validator.
 */
import { ValidationRegistry, isOperationCancelled, type ValidationAcceptor, type ValidationCheck, type AstNode } from 'langium';
import type { Cancellation } from 'langium';

export class MismatchValidationRegistry extends ValidationRegistry {
    protected override wrapValidationException(check: ValidationCheck, thisObj: unknown): ValidationCheck {
        const fail = (err: unknown) => {
            if (isOperationCancelled(err)) throw err;
            console.error('mismatch: a validation check failed:', err);
        };
        return ((node: AstNode, accept: ValidationAcceptor, cancelToken: Cancellation.CancellationToken) => {
            try {
                const result = check.call(thisObj, node, accept, cancelToken) as unknown;
                if (result instanceof Promise) return result.catch(fail);
            } catch (err) {
                fail(err);
            }
            return undefined;
        }) as ValidationCheck;
    }
}
