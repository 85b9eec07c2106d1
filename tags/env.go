package tags

import (
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Names of the functions rules may call beyond standard CEL. The time
// functions read the evaluation's Clock; has_tag reads the member's tags.
const (
	fnDaysSince  = "days_since"
	fnDaysUntil  = "days_until"
	fnHoursSince = "hours_since"
	fnYearsSince = "years_since"
	fnInLast     = "in_last"
	fnAsOf       = "as_of"
	fnYear       = "year"
	fnMonth      = "month"
	fnDay        = "day"
	fnWeekday    = "weekday"
	fnHour       = "hour"
	fnDayOfYear  = "day_of_year"
	fnDays       = "days"
	fnHours      = "hours"
	fnHasTag     = "has_tag"
	fnPresent    = "present"
)

func tsToInt(name string) cel.EnvOption {
	return cel.Function(name,
		cel.Overload(name+"_timestamp", []*cel.Type{cel.TimestampType}, cel.IntType, cel.LateFunctionBinding()))
}

func newEnv(vars []cel.EnvOption) (*cel.Env, error) {
	param := cel.TypeParamType("A")
	opts := []cel.EnvOption{
		ext.Strings(),
		// @result cannot be written in rule text, so an iteration variable
		// can never shadow a comprehension's accumulator.
		cel.EnableHiddenAccumulatorName(true),
		cel.EnableMacroCallTracking(),
		// A rule is at most 64 KiB of text; deeper nesting than this is
		// not a tag rule anyone writes and would only exhaust the stack.
		cel.ParserExpressionSizeLimit(64 << 10),
		cel.ParserRecursionLimit(200),
		// Malformed literals are definition errors, not per-member errors.
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals()),
		tsToInt(fnDaysSince), tsToInt(fnDaysUntil), tsToInt(fnHoursSince), tsToInt(fnYearsSince),
		tsToInt(fnYear), tsToInt(fnMonth), tsToInt(fnDay), tsToInt(fnWeekday), tsToInt(fnHour), tsToInt(fnDayOfYear),
		cel.Function(fnInLast,
			cel.Overload(fnInLast+"_timestamp_duration", []*cel.Type{cel.TimestampType, cel.DurationType},
				cel.BoolType, cel.LateFunctionBinding())),
		cel.Function(fnAsOf,
			cel.Overload(fnAsOf, nil, cel.TimestampType, cel.LateFunctionBinding())),
		cel.Function(fnHasTag,
			cel.Overload(fnHasTag+"_string", []*cel.Type{cel.StringType}, cel.BoolType, cel.LateFunctionBinding()),
			cel.Overload(fnHasTag+"_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.LateFunctionBinding())),
		cel.Function(fnDays,
			cel.Overload(fnDays+"_int", []*cel.Type{cel.IntType}, cel.DurationType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return durationVal(v, 24*time.Hour) }))),
		cel.Function(fnHours,
			cel.Overload(fnHours+"_int", []*cel.Type{cel.IntType}, cel.DurationType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return durationVal(v, time.Hour) }))),
		// present(field) is non-strict: it receives the error that reading an
		// absent field produces and turns it into false.
		cel.Function(fnPresent,
			cel.Overload(fnPresent+"_any", []*cel.Type{param}, cel.BoolType, cel.OverloadIsNonStrict(),
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Bool(!types.IsError(v)) }))),
	}
	return cel.NewEnv(append(opts, vars...)...)
}

func durationVal(v ref.Val, unit time.Duration) ref.Val {
	n, ok := v.(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	d, err := durationOf(int64(n), unit)
	if err != nil {
		return types.NewErr("%s", err.Error())
	}
	return types.Duration{Duration: d}
}
